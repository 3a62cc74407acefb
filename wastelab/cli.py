"""The ``wastelab`` command: data, training and evaluation for terminals and batch jobs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MODELS = ("mlp", "cnn", "strong-cnn")


def _size(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8:
        raise argparse.ArgumentTypeError(
            f"size must be N or HxW with N >= 8, got {text!r}"
        )
    return parts[0], parts[1]


def _load(data: str, verbose: int):
    from .data import load_default, load_splits

    return load_default(verbose=verbose) if data == "default" else load_splits(data)


# ---------------------------------------------------------------------------- data
def cmd_download(args: argparse.Namespace) -> int:
    from .data.download import TACO_ANNOTATIONS_URL, download_taco

    report = download_taco(
        args.dest,
        annotations_url=args.annotations_url or TACO_ANNOTATIONS_URL,
        workers=args.workers,
        retries=args.retries,
        verbose=args.verbose,
    )
    print(report.summary())
    return 1 if report.failed and not report.downloaded and not report.skipped else 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from .data import prepare, save_splits

    splits = prepare(
        args.source,
        args.root,
        task=args.task,
        size=args.size,
        color=args.color,
        seed=args.seed,
        n=args.n,
        bottle_share=args.bottle_share,
        positive=tuple(args.positive),
        verbose=args.verbose,
    )
    path = save_splits(splits, args.out)
    print(splits.summary())
    print(f"saved {path}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .data import load_splits

    splits = load_splits(args.file)
    print(splits.summary())
    meta = {k: v for k, v in splits.meta.items() if k not in ("format",)}
    print("metadata:", json.dumps(meta, sort_keys=True))
    return 0


# ---------------------------------------------------------------------------- models
def _builder(name: str, input_shape, augment: bool, seed: int):
    from . import models

    if name == "mlp":
        return lambda: models.build_mlp(input_shape)
    if name == "cnn":
        return lambda: models.build_cnn(input_shape)
    if name == "strong-cnn":
        return lambda: models.build_strong_cnn(input_shape, augment=augment, seed=seed)
    raise ValueError(f"model must be one of {MODELS}, got {name!r}")


def cmd_train(args: argparse.Namespace) -> int:
    from .io import save_model
    from .training import evaluate, train

    splits = _load(args.data, args.verbose)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = train(
        _builder(args.model, splits.image_shape, args.augment, args.seed),
        splits,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        class_weight=args.class_weight,
        oversample=args.oversample,
        loop=args.loop,
        devices=args.devices,
        mixed_precision=args.mixed_precision,
        xla=args.xla,
        log_dir=out / "logs",
        checkpoint=out / "best.keras",
        early_stopping=args.early_stopping,
        backup_dir=out / "backup",
        seed=args.seed,
        verbose=args.verbose,
    )
    model_path = save_model(result.model, out / "model.keras")
    scores = evaluate(result.model, splits.x_val, splits.y_val)
    (out / "history.json").write_text(json.dumps(result.history, indent=1))
    print(
        f"trained {args.model} for {result.epochs_run} epochs in {result.wall_time:.1f} s "
        f"({result.images_per_second:.0f} img/s) on {result.device}"
    )
    print("validation:", _scores_line(scores))
    print(f"saved {model_path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .io import load_model
    from .training import evaluate

    model = load_model(args.model)
    splits = _load(args.data, args.verbose)
    x, y = splits.split(args.split)
    scores = evaluate(model, x, y, threshold=args.threshold)
    print(f"{args.split} ({len(y)} images):", _scores_line(scores))
    if args.json:
        Path(args.json).write_text(json.dumps(scores, indent=1))
    return 0


def _scores_line(scores: dict) -> str:
    keys = ("accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy")
    return "  ".join(f"{k} {scores[k]:.3f}" for k in keys if k in scores)


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wastelab", description=__doc__)
    parser.add_argument(
        "-q",
        "--quiet",
        dest="verbose",
        action="store_const",
        const=0,
        default=1,
        help="no progress bars",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser(
        "data", help="download, prepare and inspect data"
    ).add_subparsers(dest="data_command", required=True)
    dl = data.add_parser("download", help="download a data set")
    dl.add_argument("dataset", choices=["taco"])
    dl.add_argument("--dest", required=True, type=Path)
    dl.add_argument("--annotations-url", default=None)
    dl.add_argument("--workers", type=int, default=8)
    dl.add_argument("--retries", type=int, default=3)
    dl.set_defaults(func=cmd_download)

    prep = data.add_parser("prepare", help="images -> preprocessed, split .npz")
    prep.add_argument(
        "--source", choices=["synthetic", "taco", "folder"], default="synthetic"
    )
    prep.add_argument("--root", type=Path, help="data folder (taco, folder)")
    prep.add_argument("--task", choices=["image", "objects"], default="image")
    prep.add_argument(
        "--size", type=_size, default=(50, 50), help="N or HxW (default 50)"
    )
    prep.add_argument("--color", choices=["gray", "rgb"], default="gray")
    prep.add_argument("--seed", type=int, default=0)
    prep.add_argument("--n", type=int, default=1500, help="synthetic: number of images")
    prep.add_argument(
        "--bottle-share", type=float, default=0.3, help="synthetic: bottle share"
    )
    prep.add_argument(
        "--positive",
        nargs="+",
        default=["bottle"],
        help="folder: folder names that count as bottles",
    )
    prep.add_argument("--out", required=True, type=Path)
    prep.set_defaults(func=cmd_prepare)

    summ = data.add_parser("summary", help="summarize a prepared .npz")
    summ.add_argument("file", type=Path)
    summ.set_defaults(func=cmd_summary)

    tr = sub.add_parser("train", help="train a model")
    tr.add_argument("--model", choices=MODELS, default="cnn")
    tr.add_argument("--data", default="default", help="a prepared .npz, or 'default'")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--batch-size", type=int, default=None)
    tr.add_argument("--learning-rate", type=float, default=1e-3)
    tr.add_argument("--class-weight", choices=["balanced"], default=None)
    tr.add_argument("--oversample", action="store_true")
    tr.add_argument(
        "--augment", action="store_true", help="strong-cnn: augmentation layers"
    )
    tr.add_argument("--loop", choices=["fast", "course"], default="fast")
    tr.add_argument(
        "--devices", choices=["auto", "cpu", "gpu", "multi-gpu"], default="auto"
    )
    tr.add_argument("--mixed-precision", action="store_true")
    tr.add_argument("--xla", action="store_true")
    tr.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", type=Path, default=Path("runs/latest"))
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a saved model")
    ev.add_argument("model", type=Path)
    ev.add_argument("--data", default="default")
    ev.add_argument("--split", choices=["train", "val", "test"], default="test")
    ev.add_argument("--threshold", type=float, default=None)
    ev.add_argument(
        "--json", type=Path, default=None, help="also write the scores here"
    )
    ev.set_defaults(func=cmd_evaluate)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, ConnectionError) as err:
        print(f"wastelab: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

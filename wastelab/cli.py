"""The ``wastelab`` command: data, training and evaluation for terminals and batch jobs.

An error the command can explain ends it with one line on stderr (``--debug``: the full
traceback) and an exit code saying what kind of problem it was:

  0  done                               4  an image Pillow cannot or will not decode
  1  done, but some items failed        5  a file could not be read or written
  2  bad arguments or input data        6  a TensorFlow operation failed
  3  training stopped: loss not finite  130  interrupted (Ctrl-C); train resumes
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path

MODELS = ("mlp", "cnn", "strong-cnn")
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_IMAGE = 4
EXIT_FILE = 5
EXIT_TENSORFLOW = 6
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def _size(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8:
        raise argparse.ArgumentTypeError(
            f"size must be N or HxW with N >= 8, got {text!r}"
        )
    return parts[0], parts[1]


def _learning_rate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a finite number above 0, got {text!r}"
        )
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text!r}")
    return value


def _check_output(path: Path, folder: bool = False) -> Path:
    """``path`` if the command will be able to write it (a file, or a ``folder``):
    checked before any work starts, so a long run does not fail at its end. Creates
    nothing; raises an OSError naming the path otherwise."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(path))
    if not folder and path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES, "no permission to write here", str(existing)
        )
    return path


def _load(data: str, verbose: int):
    from .data import load_default, load_splits

    return load_default(verbose=verbose) if data == "default" else load_splits(data)


# ---------------------------------------------------------------------------- data
def cmd_download(args: argparse.Namespace) -> int:
    from .data.download import TACO_ANNOTATIONS_URL, download_taco

    _check_output(args.dest, folder=True)
    report = download_taco(
        args.dest,
        annotations_url=args.annotations_url or TACO_ANNOTATIONS_URL,
        workers=args.workers,
        retries=args.retries,
        verbose=args.verbose,
        full_size=args.full_size,
    )
    print(report.summary())
    return 1 if report.failed else 0  # after the report: a batch job sees the failure


def cmd_prepare(args: argparse.Namespace) -> int:
    from .data import prepare, save_splits

    _check_output(args.out)
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
        strict=args.strict,
        verbose=args.verbose,
    )
    path = save_splits(splits, args.out)
    if not args.verbose and "annotation_report" in splits.meta:
        print(splits.meta["annotation_report"])  # verbose: load_taco printed it
    print(splits.summary())
    print(f"saved {path}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .data import load_splits

    if not str(args.file).lower().endswith(".npz"):  # a COCO annotation file
        from .data.coco_stats import coco_statistics

        stats = coco_statistics(args.file, strict=args.strict)
        print(stats.report.line())
        print(stats.summary())
        return 0
    splits = load_splits(args.file)
    print(splits.summary())
    meta = {k: v for k, v in splits.meta.items() if k not in ("format",)}
    print("metadata:", json.dumps(meta, sort_keys=True))
    return 0


# ---------------------------------------------------------------------------- models
def _builder(name: str, input_shape, augment: bool, seed: int):
    from . import models

    if name == "mlp":
        return lambda: models.build_mlp(input_shape, seed=seed)
    if name == "cnn":
        return lambda: models.build_cnn(input_shape, seed=seed)
    if name == "strong-cnn":
        return lambda: models.build_strong_cnn(input_shape, augment=augment, seed=seed)
    raise ValueError(f"model must be one of {MODELS}, got {name!r}")


def cmd_train(args: argparse.Namespace) -> int:
    from .atomic import write_json
    from .io import save_model
    from .training import evaluate, train

    out = _check_output(args.out, folder=True)  # train creates it once all is checked
    splits = _load(args.data, args.verbose)
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
    if not result.chief:  # multi-worker: worker 0, the chief, writes OUT
        print(f"worker done: {result.epochs_run} epochs on {result.device}")
        return 0
    model_path = save_model(result.model, out / "model.keras")
    write_json(out / "history.json", result.history)  # every epoch, resumed or not
    scores = evaluate(result.model, splits.x_val, splits.y_val)
    print(
        f"trained {args.model} for {result.epochs_run} epochs in "
        f"{result.wall_time:.1f} s ({result.images_per_second:.0f} img/s) "
        f"on {result.device}"
    )
    print("validation:", _scores_line(scores))
    print(f"saved {model_path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .atomic import write_json
    from .io import load_model
    from .training import evaluate

    if args.json is not None:
        _check_output(args.json)
    model = load_model(args.model)
    splits = _load(args.data, args.verbose)
    x, y = splits.split(args.split)
    scores = evaluate(model, x, y, threshold=args.threshold)
    print(f"{args.split} ({len(y)} images):", _scores_line(scores))
    if args.json is not None:
        write_json(args.json, scores)
    return 0


def _scores_line(scores: dict) -> str:
    keys = ("accuracy", "precision", "recall", "specificity", "f1", "balanced_accuracy")
    return "  ".join(f"{k} {scores[k]:.3f}" for k in keys if k in scores)


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wastelab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the exit codes
    )
    parser.add_argument(
        "-q",
        "--quiet",
        dest="verbose",
        action="store_const",
        const=0,
        default=1,
        help="no progress bars",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error"
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
    dl.add_argument(
        "--full-size",
        action="store_true",
        help="fetch the original photos (flickr_url) instead of Flickr's 640-pixel "
        "versions (flickr_640_url); see 'wastelab data summary annotations.json' for "
        "their sizes",
    )
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
        "--bottle-share",
        type=float,
        default=None,
        help="synthetic: share of scenes with a bottle (default: TACO's)",
    )
    prep.add_argument(
        "--positive",
        nargs="+",
        default=["bottle"],
        help="folder: folder names that count as bottles",
    )
    prep.add_argument("--out", required=True, type=Path)
    prep.add_argument(
        "--strict",
        action="store_true",
        help="taco: refuse an annotation file with defects instead of repairing them",
    )
    prep.set_defaults(func=cmd_prepare)

    summ = data.add_parser(
        "summary", help="summarize a prepared .npz or a COCO annotation file"
    )
    summ.add_argument(
        "file", type=Path, help=".npz, or COCO .json (.json.gz, .json.xz)"
    )
    summ.add_argument(
        "--strict",
        action="store_true",
        help="COCO file: refuse defects instead of repairing them",
    )
    summ.set_defaults(func=cmd_summary)

    tr = sub.add_parser("train", help="train a model")
    tr.add_argument("--model", choices=MODELS, default="cnn")
    tr.add_argument("--data", default="default", help="a prepared .npz, or 'default'")
    tr.add_argument("--epochs", type=_positive_int, default=30)
    tr.add_argument("--batch-size", type=_positive_int, default=None)
    tr.add_argument("--learning-rate", type=_learning_rate, default=1e-3)
    tr.add_argument("--class-weight", choices=["balanced"], default=None)
    tr.add_argument("--oversample", action="store_true")
    tr.add_argument(
        "--augment", action="store_true", help="strong-cnn: augmentation layers"
    )
    tr.add_argument("--loop", choices=["fast", "course"], default="fast")
    tr.add_argument(
        "--devices",
        choices=["auto", "cpu", "gpu", "multi-gpu", "multi-worker"],
        default="auto",
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


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (e.g. Slurm preempting a job) ends like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except BaseException as err:
        failure = None if args.debug else _failure(err, args)
        if failure is None:  # --debug, or not an error the command can explain
            raise
        code, message = failure
        print(f"wastelab: {' '.join(message.split())}", file=sys.stderr)
        return code


def _failure(err: BaseException, args: argparse.Namespace) -> tuple[int, str] | None:
    """The exit code and the line for an error the command explains (None: a bug)."""
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED, _interrupted(args)
    if isinstance(err, FloatingPointError):
        return EXIT_DIVERGED, f"error: {err}"
    if type(err).__module__.startswith("PIL"):  # Pillow's errors, some are OSErrors
        return EXIT_IMAGE, f"error: {err}"
    if isinstance(err, FileNotFoundError | ValueError | ConnectionError):
        return EXIT_BAD_INPUT, f"error: {err}"
    if isinstance(err, OSError):
        where = " -> ".join(str(f) for f in (err.filename, err.filename2) if f)
        what = err.strerror or str(err)
        return EXIT_FILE, f"error: {where}: {what}" if where else f"error: {what}"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(err, tf.errors.OpError):
        first = (err.message or type(err).__name__).strip().splitlines()[0]
        return EXIT_TENSORFLOW, f"error: TensorFlow: {first}"
    return None


def _interrupted(args: argparse.Namespace) -> str:
    if args.command != "train":
        return "interrupted"
    from .training import backup_epoch

    done = backup_epoch(Path(args.out) / "backup")
    if done:
        return f"interrupted after epoch {done}; run the same command again to resume"
    return "interrupted before an epoch was backed up; run the same command to start"


if __name__ == "__main__":
    sys.exit(main())

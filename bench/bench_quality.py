"""Quality on real photos, measured honestly: an ablation under 5-fold cross-validation.

Data: ``../shared/data/trashnet_bottles.npz`` beside the repository (TrashNet photos
labelled "bottle" or not; see that folder's README), or ``--data PATH``, or
``--data synthetic`` for the book's synthetic scenes (written to
``quality_synthetic.json``).

Protocol (:mod:`wastelab.crossval`): stratified 5-fold cross-validation (seed 0); every
step of the ablation trains on the SAME folds, with a fixed number of epochs (no early
stopping, so no photo outside the training folds steers training). Each photo is scored
once, by the model of the fold that did not train on it (out-of-fold, OOF). A fold's
decision threshold is chosen (best F1) on the OOF photos of the other folds. Per step:
mean F1 over folds (and seeds) with a 90 % Student-t interval, Nadeau-Bengio corrected
for folds sharing training photos; PR-AUC (average precision, no threshold); precision
and recall; and the paired difference to the previous step and to the course CNN, per
fold (interval as above) and by a paired bootstrap over photos (2,000 resamples).

The ablation, each step changing one thing: course CNN (gray 50x50, the course's fit
loop, 30 epochs) -> + class weights -> + RGB 64x64 -> + stronger CNN -> + augmentation
-> + resolution 96x96 (resized from ``rgb128``) -> + longer cosine schedule -> + flip
test-time augmentation -> + ensemble of the fold's models; and transfer learning from a
pretrained base (ImageNet VGG-16 when its weights are in the Keras cache, else the base
wastelab pretrains on synthetic scenes; the JSON says which).

    .venv/bin/python bench/bench_quality.py [--data PATH|synthetic] [--json PATH]
        [--quick] [--steps WORD ...] [--oof PATH.npz] [--deadline HH:MM]

``--oof`` keeps every trained step's out-of-fold predictions, so a run cut short (by
``--deadline``, which leaves out the models that would end later) resumes where it
stopped (from the last completed step). A step "helps" when its mean per-fold paired difference to the step before
it is positive; "beats the course CNN beyond the spread" needs that difference above
the standard deviation of per-fold F1 and both intervals above 0.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common  # noqa: E402  (after the TF log level)
import numpy as np  # noqa: E402

NAME = "quality"
DEFAULT_DATA = Path(__file__).parents[1] / "../shared/data/trashnet_bottles.npz"
TARGET_F1 = 0.80
STRETCH_F1 = 0.85
LEVEL = 0.9
N_FOLDS = 5
N_BOOT = 2000
QUICK_IMAGES = 120
#: The course's CNN on its TACO test set, as the course reports it (not measured here).
COURSE_REPORTED = {"accuracy": 0.69, "precision": 0.15, "recall": 0.09, "f1": 0.12}
VGG16_CACHE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


@dataclass(frozen=True)
class Step:
    """One step of the ablation: a recipe that changes one thing from the previous one.

    ``model``: ``"course_cnn"``, ``"strong_cnn"`` or ``"transfer"``; or ``"derived"``,
    a step that trains nothing and combines stored predictions of earlier steps:
    flip test-time augmentation (``tta``) of the mean of the steps in ``ensemble``.
    """

    name: str
    change: str
    model: str
    image: str = "gray50"  # "gray50", "rgb64" or "rgb96"
    loop: str = "fast"
    class_weight: str | None = None
    augment: bool = False
    epochs: int = 30
    learning_rate: float = 1e-3
    schedule: str = "constant"  # or "cosine": 5 % linear warm-up, then cosine to 0
    fine_tune_epochs: int = 0  # transfer: a second stage with the whole base trainable
    seeds: int = 1
    tta: bool = False
    ensemble: tuple[str, ...] = ()
    compare_with: str | None = None  # default: the step before


def steps(quick: bool = False) -> list[Step]:
    """The ablation, from the course's recipe to the best one, then transfer."""
    e = 1 if quick else 16  # epochs of the strong-CNN steps
    cheap = 1 if quick else 2  # seeds of the cheap (course CNN) steps
    course_epochs = 1 if quick else 30  # the course: "use number of epochs = 30"
    strong = {"model": "strong_cnn", "class_weight": "balanced", "epochs": e}
    return [
        Step(
            "course CNN",
            "the course's CNN, gray 50x50, fit on numpy, batch 32",
            "course_cnn",
            loop="course",
            epochs=course_epochs,
            seeds=cheap,
        ),
        Step(
            "+ class weights",
            "loss weighted by inverse class frequency",
            "course_cnn",
            loop="course",
            class_weight="balanced",
            epochs=course_epochs,
            seeds=cheap,
        ),
        Step(
            "+ RGB 64x64",
            "colour photos at 64x64 instead of gray 50x50",
            "course_cnn",
            image="rgb64",
            loop="course",
            class_weight="balanced",
            epochs=course_epochs,
            seeds=cheap,
        ),
        Step(
            "+ strong CNN",
            "Conv-BatchNorm-ReLU blocks, global pooling, dropout; "
            "tf.data loop, batch 128",
            image="rgb64",
            **strong,
        ),
        Step(
            "+ augmentation",
            "random flips, rotations, zooms, shifts, contrast",
            image="rgb64",
            augment=True,
            **strong,
        ),
        Step(
            "+ resolution 96x96",
            "96x96 photos, resized from the 128x128 ones",
            image="rgb96",
            augment=True,
            **strong,
        ),
        Step(
            "+ longer schedule",
            f"{2 * e} epochs instead of {e}, cosine learning "
            "rate from 2e-3 with warm-up",
            "strong_cnn",
            image="rgb96",
            class_weight="balanced",
            augment=True,
            epochs=2 * e,
            learning_rate=2e-3,
            schedule="cosine",
        ),
        Step(
            "+ flip TTA",
            "mean of the predictions on the photo and its mirror image",
            "derived",
            image="rgb96",
            tta=True,
            ensemble=("+ longer schedule",),
        ),
        Step(
            "+ ensemble",
            "mean of the fold's augmented strong CNNs (64, 96, 96 "
            "longer), each with flip TTA",
            "derived",
            tta=True,
            ensemble=("+ augmentation", "+ resolution 96x96", "+ longer schedule"),
        ),
        Step(
            "transfer",
            "pretrained base + new head: frozen, then fine-tuned "
            "(cosine), with augmentation",
            "transfer",
            image="rgb64",
            class_weight="balanced",
            augment=True,
            epochs=1 if quick else 10,
            fine_tune_epochs=1 if quick else 20,
            learning_rate=1e-3,
            compare_with="+ augmentation",
        ),
    ]


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def load_images(source: str | Path, seed: int, quick: bool) -> tuple[dict, Any, dict]:
    """Images by name (``gray50``, ``rgb64``, ``rgb96``), labels (N,), a description."""
    if str(source) == "synthetic":
        from wastelab.data.synthetic import make_scenes

        n = QUICK_IMAGES if quick else 1500
        arrays = {}
        for key, size, color in (
            ("x", (50, 50), "gray"),
            ("rgb", (64, 64), "rgb"),
            ("rgb128", (128, 128), "rgb"),
        ):
            x, y, _ = make_scenes(
                n=n, bottle_share=0.3, seed=seed, size=size, color=color, verbose=0
            )
            arrays[key], arrays[f"y_{key}"] = x, y
        if not (
            np.array_equal(arrays["y_x"], arrays["y_rgb"])
            and np.array_equal(arrays["y_x"], arrays["y_rgb128"])
        ):
            raise ValueError("synthetic scenes differ in labels between sizes")
        x, rgb, rgb128, y = (
            arrays["x"],
            arrays["rgb"],
            arrays["rgb128"],
            arrays["y_x"].astype(np.int64),
        )
        info: dict[str, Any] = {"source": "synthetic"}
    else:
        path = Path(source)
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("x", "rgb", "y") if k not in z.files]
            if missing:
                raise ValueError(f"{path}: arrays {missing} missing (found {z.files})")
            x, rgb, y = z["x"], z["rgb"], z["y"].astype(np.int64)
            rgb128 = z["rgb128"] if "rgb128" in z.files else None
        if x.ndim != 3 or rgb.ndim != 4 or len(x) != len(y) or len(rgb) != len(y):
            raise ValueError(
                f"{path}: expected x (N, H, W), rgb (N, H, W, 3), y (N,), "
                f"got {x.shape}, {rgb.shape}, {y.shape}"
            )
        if quick and len(y) > QUICK_IMAGES:
            keep = np.sort(
                np.random.default_rng(seed).permutation(len(y))[:QUICK_IMAGES]
            )
            x, rgb, y = x[keep], rgb[keep], y[keep]
            rgb128 = rgb128[keep] if rgb128 is not None else None
        info = {"source": str(path.resolve())}
    if x.ndim == 3:
        x = x[..., None]
    high = rgb128 if rgb128 is not None else rgb  # 96x96 from the sharpest copy at hand
    images = {"gray50": x, "rgb64": rgb, "rgb96": resize(high, (96, 96))}
    info.update(
        {
            "n": int(len(y)),
            "bottles": int(y.sum()),
            "bottle_share": float(y.mean()),
            "shapes": {k: list(v.shape[1:]) for k, v in images.items()},
            "rgb96_from": "rgb128" if rgb128 is not None else "rgb (64x64)",
            "fingerprint": fingerprint(x, y),
        }
    )
    return images, y, info


def resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 images (N, H, W, C) resized to ``size`` (antialiased bilinear), uint8."""
    import tensorflow as tf

    out = [
        tf.image.resize(x[i : i + 256], size, antialias=True).numpy()
        for i in range(0, len(x), 256)
    ]
    return np.clip(np.rint(np.concatenate(out)), 0, 255).astype(np.uint8)


def fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """A short SHA-256 of the images and labels: tells whether the data changed."""
    import hashlib

    return hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# Training one step on every fold
# --------------------------------------------------------------------------------------


def transfer_api() -> Any:
    """The module holding the transfer-learning builders (``wastelab.transfer``, or
    ``wastelab.models`` in trees from before the move)."""
    try:
        from wastelab import transfer
    except ImportError:
        from wastelab import models as transfer
    return transfer


def base_source() -> str:
    """``"imagenet"`` when VGG-16's ImageNet weights are in the Keras cache (this
    benchmark never downloads), else ``"wastelab-synthetic"``."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    cached = (home / "models" / VGG16_CACHE).is_file()
    return "imagenet" if cached else "wastelab-synthetic"


def make_base(source: str, shape: tuple[int, ...], quick: bool) -> Any:
    """A fresh copy of the pretrained base (each fold fine-tunes its own)."""
    api = transfer_api()
    if source == "imagenet":
        base, _ = api.load_vgg16_base(input_shape=shape, verbose=0)
        return base
    pretrain = {"n": 64, "epochs": 1} if quick else {}
    return api.pretrained_base(shape, verbose=0, **pretrain)


def optimizer(step: Step, n_train: int, epochs: int, learning_rate: float) -> Any:
    """Adam with the step's learning rate: constant, or warm-up then cosine decay."""
    import keras

    from wastelab.training import CPU_BATCH_SIZE

    if step.schedule == "constant":
        return keras.optimizers.Adam(learning_rate)
    total = epochs * math.ceil(n_train / CPU_BATCH_SIZE)
    warmup = max(1, total // 20)
    lr = keras.optimizers.schedules.CosineDecay(
        learning_rate / 10,
        decay_steps=max(1, total - warmup),
        warmup_target=learning_rate,
        warmup_steps=warmup,
    )
    return keras.optimizers.Adam(lr)


def fit_predict(
    step: Step,
    x: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    seed: int,
    base: str,
    quick: bool,
) -> dict:
    """Train ``step`` on the training photos; bottle probabilities of the test photos,
    as they are and mirrored (for flip TTA), and what the training took."""
    from wastelab import training
    from wastelab.data.splits import Splits
    from wastelab.models import augmentation_layers, build_cnn, build_strong_cnn

    empty = x[:0]
    data = Splits(
        x[train_idx], y[train_idx], empty, y[:0], empty, y[:0], meta={"fold": "train"}
    )
    shape = data.image_shape
    args = {
        "loop": step.loop,
        "class_weight": step.class_weight,
        "seed": seed,
        "verbose": 0,
        "augment": augmentation_layers(seed) if step.augment else None,
    }
    start = time.perf_counter()
    if step.model == "course_cnn":
        model = build_cnn(shape, seed=seed)
    elif step.model == "strong_cnn":
        model = build_strong_cnn(shape, seed=seed)
    elif step.model == "transfer":
        model = transfer_api().build_transfer(
            shape, base=make_base(base, shape, quick), seed=seed
        )
    else:
        raise ValueError(f"step {step.name!r}: unknown model {step.model!r}")
    result = training.train(
        model,
        data,
        epochs=step.epochs,
        optimizer=optimizer(step, len(train_idx), step.epochs, step.learning_rate),
        **args,
    )
    epochs = result.epochs_run
    if step.fine_tune_epochs:
        transfer_api().set_trainable(model, True)
        fine = Step(**{**asdict(step), "schedule": "cosine"})
        result = training.train(
            model,
            data,
            epochs=step.fine_tune_epochs,
            optimizer=optimizer(fine, len(train_idx), step.fine_tune_epochs, 3e-4),
            **args,
        )
        epochs += result.epochs_run
    seconds = time.perf_counter() - start
    x_test = x[test_idx]
    return {
        "proba": training.predict_proba(model, x_test)[:, 1],
        "proba_flip": training.predict_proba(model, x_test[:, :, ::-1])[:, 1],
        "seconds": seconds,
        "epochs": epochs,
    }


class OutOfTime(Exception):
    """The next model would end after ``--deadline``: the step is left out."""


def run_step(
    step: Step,
    images: dict,
    y: np.ndarray,
    folds: list,
    base: str,
    quick: bool,
    deadline: float | None = None,
) -> dict:
    """OOF probabilities (seeds, N) of ``step``, plain and mirrored; seconds.

    Raises :class:`OutOfTime` when the next model, taking as long as the last one,
    would end after ``deadline`` (a ``time.time()``)."""
    x = images[step.image]
    n_seeds = step.seeds
    proba = np.full((n_seeds, len(y)), np.nan)
    flip = np.full((n_seeds, len(y)), np.nan)
    seconds, epochs = [], []
    for s in range(n_seeds):
        for k, (train_idx, test_idx) in enumerate(folds):
            last = seconds[-1] if seconds else 0.0
            if deadline is not None and time.time() + last > deadline:
                raise OutOfTime(f"{step.name}: seed {s}, fold {k + 1} would end late")
            out = fit_predict(
                step, x, y, train_idx, test_idx, seed=s, base=base, quick=quick
            )
            proba[s, test_idx], flip[s, test_idx] = out["proba"], out["proba_flip"]
            seconds.append(out["seconds"])
            epochs.append(out["epochs"])
            print(
                f"  {step.name}: seed {s}, fold {k + 1}/{len(folds)}: "
                f"{out['seconds']:.0f} s",
                flush=True,
            )
    return {"proba": proba, "flip": flip, "seconds": seconds, "epochs": epochs}


def derive(step: Step, done: dict[str, dict]) -> dict:
    """Predictions of a derived step: flip TTA, then the mean over the named steps
    (seed 0 of each: every member was trained on the same folds)."""
    members = []
    for name in step.ensemble:
        if name not in done:
            continue  # left out (out of time): the ensemble does without it
        runs = done[name]
        members.append(
            (runs["proba"][0] + runs["flip"][0]) / 2 if step.tta else runs["proba"][0]
        )
    if not members:
        raise OutOfTime(f"{step.name}: none of {step.ensemble} was run")
    proba = np.mean(members, axis=0)[None, :]
    return {"proba": proba, "flip": proba, "seconds": [0.0], "epochs": [0]}


# --------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------


def score_step(step: Step, runs: dict, y: np.ndarray, folds: list) -> dict:
    """The step's row of the results: mean F1 [interval], spread, PR-AUC, and so on."""
    from wastelab.crossval import summarize

    s = summarize(y, list(runs["proba"]), folds, level=LEVEL)
    return {
        "name": step.name,
        "change": step.change,
        "mean_f1": s["mean"],
        "low": s["low"],
        "high": s["high"],
        "spread": s["spread"],
        "f1_per_fold": s["f1"].round(4).tolist(),
        "pr_auc": s["pr_auc"],
        "precision": s["precision"],
        "recall": s["recall"],
        "threshold": s["threshold"],
        "runs": len(runs["proba"]),
        "train_seconds": float(np.sum(runs["seconds"])),
        "seconds_per_model": float(np.mean(runs["seconds"])),
        "epochs_per_model": float(np.mean(runs["epochs"])),
        "settings": {
            k: v for k, v in asdict(step).items() if k not in ("name", "change")
        },
        "_decisions": s["decisions"],
        "_f1": s["f1"],
    }


def compare(a: dict, b: dict, y: np.ndarray, folds: list) -> dict:
    """Step ``a`` minus step ``b`` on the same photos: per fold and paired bootstrap."""
    from wastelab.crossval import paired_bootstrap, paired_fold_differences

    ratio = 1 / (len(folds) - 1)
    per_fold = paired_fold_differences(a["_f1"], b["_f1"], LEVEL, ratio)
    boot = paired_bootstrap(
        y, a["_decisions"], b["_decisions"], n_boot=N_BOOT, level=LEVEL, seed=0
    )
    return {"against": b["name"], **per_fold, "bootstrap": boot}


def add_comparisons(
    rows: list[dict], chain: list[Step], y: np.ndarray, folds: list
) -> None:
    """Fill ``vs_previous``, ``vs_course`` and ``kept`` of every row."""
    by_name = {r["name"]: r for r in rows}
    course = rows[0]
    for i, (row, step) in enumerate(zip(rows, chain, strict=True)):
        prev_name = step.compare_with or (chain[i - 1].name if i else None)
        prev = by_name.get(prev_name) if prev_name else None
        row["vs_previous"] = compare(row, prev, y, folds) if prev else None
        row["vs_course"] = compare(row, course, y, folds) if i else None
        row["kept"] = True if prev is None else bool(row["vs_previous"]["mean"] > 0)


def verdict_fields(payload: dict) -> None:
    """``best``, ``target_met``, ``stretch_met``, ``beats_course_beyond_spread``."""
    rows = payload["steps"]
    best = max(rows, key=lambda r: r["mean_f1"])
    course = rows[0]
    payload["best"] = best["name"]
    payload["target_met"] = bool(best["mean_f1"] >= TARGET_F1)
    payload["stretch_met"] = bool(best["mean_f1"] >= STRETCH_F1)
    gain = best["vs_course"]
    spread = max(best["spread"], course["spread"])
    payload["beats_course_beyond_spread"] = bool(
        gain is not None
        and gain["mean"] > spread
        and gain["low"] > 0
        and gain["bootstrap"]["low"] > 0
    )
    payload["spread_between_runs"] = spread


def public(row: dict) -> dict:
    """A row without the arrays kept for comparisons (names starting with "_")."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


# --------------------------------------------------------------------------------------
# Report (pure functions of the JSON: the results page calls them too)
# --------------------------------------------------------------------------------------


def _interval(d: dict | None) -> str | None:
    if d is None:
        return None
    return f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def tables(payload: dict[str, Any]) -> list[common.Table]:
    """The ablation table (mean F1 [90 % interval], PR-AUC, paired differences) and
    the training details; results in the older one-split format as they were."""
    if "steps" not in payload:
        return _legacy_tables(payload)
    data = payload["data"]
    k = payload["settings"]["folds"]
    rows = []
    for r in payload["steps"]:
        prev = r["vs_previous"]
        rows.append(
            [
                r["name"],
                r["mean_f1"],
                f"[{r['low']:.3f}, {r['high']:.3f}]",
                r["spread"],
                r["pr_auc"],
                r["precision"],
                r["recall"],
                _interval(prev),
                _interval(r["vs_course"]),
                "-" if prev is None else ("yes" if r["kept"] else "no"),
            ]
        )
    title = (
        f"Out-of-fold bottle F1, {k}-fold cross-validation on {data['n']} photos "
        f"({data['bottles']} bottles) of {Path(data['source']).name}: mean "
        f"[90 % interval] over folds and seeds; differences per fold, paired"
    )
    detail = [
        [
            r["name"],
            r["change"],
            r["runs"],
            r["epochs_per_model"],
            common.fixed(r["seconds_per_model"], 0),
            r["threshold"],
            (r["vs_previous"] or {}).get("against"),
            _interval((r["vs_previous"] or {}).get("bootstrap")),
            _interval((r["vs_course"] or {}).get("bootstrap")),
        ]
        for r in payload["steps"]
    ]
    return [
        (
            title,
            [
                "step",
                "F1",
                "90 % interval",
                "spread (sd)",
                "PR-AUC",
                "precision",
                "recall",
                "vs previous",
                "vs course CNN",
                "helps",
            ],
            rows,
        ),
        (
            "What each step changes; training cost; paired bootstrap over photos",
            [
                "step",
                "change",
                "runs",
                "epochs",
                "s per model",
                "OOF threshold",
                "previous",
                "bootstrap vs previous",
                "bootstrap vs course",
            ],
            detail,
        ),
    ]


def verdicts(payload: dict[str, Any]) -> list[str]:
    """The target; the gain over the course CNN vs the spread; what did not help."""
    if "steps" not in payload:
        return _legacy_verdicts(payload)
    rows = {r["name"]: r for r in payload["steps"]}
    best = rows[payload["best"]]
    course = payload["steps"][0]
    met = "met" if payload["target_met"] else "NOT MET"
    lines = [
        f"Mean out-of-fold bottle F1 >= {payload['settings']['target_f1']}: {met}"
        f" - the best step, '{best['name']}', scores {best['mean_f1']:.3f} "
        f"[{best['low']:.3f}, {best['high']:.3f}] (stretch "
        f"{payload['settings']['stretch_f1']}: "
        f"{'met' if payload['stretch_met'] else 'not met'})."
    ]
    gain = best["vs_course"]
    if gain is not None:
        beyond = payload["beats_course_beyond_spread"]
        lines.append(
            f"Against the course CNN ({course['mean_f1']:.3f}) the best step gains "
            f"{_interval(gain)} per fold and {_interval(gain['bootstrap'])} by paired "
            f"bootstrap; the spread between runs (sd of per-fold F1) is "
            f"{payload['spread_between_runs']:.3f}: the gain is "
            f"{'larger than' if beyond else 'NOT clearly larger than'} that spread."
        )
    dropped = [r for r in payload["steps"][1:] if not r["kept"]]
    for r in dropped:
        lines.append(
            f"'{r['name']}' did not help: {_interval(r['vs_previous'])} "
            f"against '{r['vs_previous']['against']}'."
        )
    lines.append(f"Transfer base: {payload.get('transfer_base', {}).get('source')}.")
    ran = {r["name"] for r in payload["steps"]}
    planned = [s["name"] for s in payload["settings"].get("steps", [])]
    missing = [name for name in planned if name not in ran]
    if missing:
        lines.append(
            f"Not measured in this run (out of time, deadline "
            f"{payload['settings'].get('deadline')}): {', '.join(missing)}."
        )
    lines.append(
        "Choosing the best of several steps on the same folds flatters it a "
        "little; the separate set of real photos is the check."
    )
    return lines


def _legacy_tables(payload: dict[str, Any]) -> list[common.Table]:
    """Results of the older protocol (one 80/10/10 split): test scores per recipe."""
    rows = [
        [
            r["recipe"],
            r["test"]["precision"],
            r["test"]["recall"],
            r["test"]["f1"],
            r["val"]["f1"],
            r["train_seconds"],
        ]
        for r in payload.get("recipes", [])
    ]
    return [
        (
            "Older protocol (one test split; re-run bench/bench_quality.py for the "
            "cross-validated ablation)",
            ["recipe", "precision", "recall", "F1", "val F1", "train s"],
            rows,
        )
    ]


def _legacy_verdicts(payload: dict[str, Any]) -> list[str]:
    return [
        "Measured with the older one-split protocol: no intervals, no paired "
        "comparisons; differences of a few hundredths are within noise."
    ]


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def json_text(step: Step) -> str:
    """A step's full settings as text: stored predictions are reused only for the
    very same step."""
    import json

    return json.dumps(asdict(step), sort_keys=True)


def save_runs(path: Path, key: dict, runs: dict[str, dict]) -> None:
    """OOF predictions of every trained step so far, as ``.npz`` (no pickle), written
    atomically; ``key`` names the data and folds they belong to."""
    import json

    arrays: dict[str, np.ndarray] = {"key": np.array(json.dumps(key, sort_keys=True))}
    for i, (text, r) in enumerate(runs.items()):
        arrays[f"step{i}"] = np.array(text)
        for name in ("proba", "flip", "seconds", "epochs"):
            arrays[f"step{i}_{name}"] = np.asarray(r[name], dtype=float)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_runs(path: Path, key: dict) -> dict[str, dict]:
    """The predictions :func:`save_runs` stored for the same data and folds, by step
    settings; {} when there are none."""
    import json

    if not Path(path).is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        if str(z["key"]) != json.dumps(key, sort_keys=True):
            print(f"{path}: other data or folds, not reused", flush=True)
            return {}
        runs = {}
        i = 0
        while f"step{i}" in z.files:
            runs[str(z[f"step{i}"])] = {
                name: z[f"step{i}_{name}"]
                for name in ("proba", "flip", "seconds", "epochs")
            }
            i += 1
    print(f"{path}: reusing {len(runs)} trained steps", flush=True)
    return runs


def until(hh_mm: str | None) -> float | None:
    """``"HH:MM"`` today on this machine's clock as a ``time.time()``; None for None."""
    if hh_mm is None:
        return None
    import datetime as dt

    hour, minute = (int(v) for v in hh_mm.split(":"))
    return dt.datetime.now().replace(hour=hour, minute=minute, second=0).timestamp()


def main(argv: list[str] | None = None) -> int:
    p = common.parser(NAME, __doc__.split("\n\n")[0])
    p.set_defaults(json=None)
    p.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        help="a .npz with x (N,50,50), rgb (N,64,64,3), rgb128, y; or 'synthetic'",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the folds")
    p.add_argument(
        "--oof",
        type=Path,
        default=None,
        help="a .npz to store each trained step's out-of-fold predictions in, and to "
        "reuse them from on the next run (same data, folds and step settings)",
    )
    p.add_argument(
        "--deadline",
        default=None,
        help="HH:MM (this machine's clock, today): leave out the models that would "
        "end later, and say so",
    )
    p.add_argument(
        "--steps",
        nargs="+",
        default=None,
        help="run only the steps whose names contain one of these words "
        "(the course CNN always runs: every comparison needs it)",
    )
    args = p.parse_args(argv)
    synthetic = args.data == "synthetic"
    if not synthetic and not Path(args.data).is_file():
        print(
            f"SKIPPED: no data at {Path(args.data).resolve()} (the real photos live in "
            f"../shared/data/ beside the repository; pass --data PATH or --data "
            f"synthetic). Nothing measured, nothing written."
        )
        return 0
    json_path = args.json or common.default_json_path(
        f"{NAME}_synthetic" if synthetic else NAME
    )
    common.use_repo_package()
    import tensorflow as tf  # noqa: F401  (so machine_info sees its version and GPUs)

    from wastelab.crossval import stratified_folds

    transfer_api()  # import now: later edits to the package do not reach this run
    import wastelab.models  # noqa: F401
    import wastelab.training  # noqa: F401

    images, y, data_info = load_images(args.data, args.seed, args.quick)
    folds = stratified_folds(y, n_splits=2 if args.quick else N_FOLDS, seed=args.seed)
    data_info["folds"] = [
        {"train": len(a), "test": len(b), "bottles_test": int(y[b].sum())}
        for a, b in folds
    ]
    print(
        f"data: {data_info['source']}: {data_info['n']} photos, "
        f"{data_info['bottles']} bottles; {len(folds)} folds",
        flush=True,
    )
    chain = steps(args.quick)
    if args.steps:
        wanted = [w.lower() for w in args.steps]
        keep = [s for s in chain if any(w in s.name.lower() for w in wanted)]
        needed = {m for s in keep for m in s.ensemble} | {
            s.compare_with for s in keep if s.compare_with
        }
        chain = [s for s in chain if s is chain[0] or s in keep or s.name in needed]
    base = base_source()
    settings = {
        "seed": args.seed,
        "quick": args.quick,
        "folds": len(folds),
        "level": LEVEL,
        "bootstrap_resamples": N_BOOT,
        "threshold": "per fold, best F1 on the other folds' OOF photos",
        "interval": "Student t over folds x seeds, Nadeau-Bengio corrected",
        "early_stopping": None,
        "target_f1": TARGET_F1,
        "stretch_f1": STRETCH_F1,
        "steps": [asdict(s) for s in chain],
        "deadline": args.deadline,
    }
    payload = common.new_payload(NAME, settings)
    payload["data"] = data_info
    payload["transfer_base"] = {"source": base}
    payload["course_reported"] = COURSE_REPORTED

    deadline = until(args.deadline)
    key = {"data": data_info["fingerprint"], "seed": args.seed, "folds": len(folds)}
    stored = load_runs(args.oof, key) if args.oof else {}
    done: dict[str, dict] = {}
    rows: list[dict] = []
    ran: list[Step] = []
    payload["left_out"] = []
    payload["reused"] = []
    for step in chain:
        start = time.perf_counter()
        try:
            if step.model == "derived":
                runs = derive(step, done)
            elif json_text(step) in stored:
                runs = stored[json_text(step)]
                payload["reused"].append(step.name)
            else:
                if step.model == "transfer" and base == "wastelab-synthetic":
                    t0 = time.perf_counter()
                    make_base(base, images[step.image].shape[1:], args.quick)  # cache
                    seconds = time.perf_counter() - t0
                    payload["transfer_base"]["pretrain_seconds"] = seconds
                runs = run_step(step, images, y, folds, base, args.quick, deadline)
        except OutOfTime as err:
            print(f"LEFT OUT (deadline {args.deadline}): {err}", flush=True)
            payload["left_out"].append(step.name)
        else:
            done[step.name] = runs
            ran.append(step)
            if args.oof:
                save_runs(args.oof, key, {json_text(s): done[s.name] for s in ran})
            rows.append(score_step(step, runs, y, folds))
            add_comparisons(rows, ran, y, folds)
            r = rows[-1]
            print(
                f"{step.name}: F1 {r['mean_f1']:.3f} "
                f"[{r['low']:.3f}, {r['high']:.3f}], "
                f"PR-AUC {r['pr_auc']:.3f}, vs previous {_interval(r['vs_previous'])}, "
                f"{time.perf_counter() - start:.0f} s",
                flush=True,
            )
        if not rows:
            continue
        payload["steps"] = [public(row) for row in rows]
        payload["complete"] = not payload["left_out"] and len(rows) == len(chain)
        verdict_fields(payload)
        common.finish_payload(payload)
        common.write_json(json_path, payload)  # after every step: partial results stay
    common.print_report(
        "Quality: out-of-fold bottle F1 under cross-validation",
        payload,
        tables(payload),
        verdicts(payload),
    )
    print(f"\nwrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Self-checks for chapter 10, doing better: oversampling, flip test-time augmentation,
and a recipe of the reader's own, measured with the chapter's protocol.

Checks print a one-line verdict in a notebook (``self_check``) and raise ``CheckFailed``
with a hint elsewhere; an unfinished answer passes ``NotImplementedError`` through.
Expected values are computed at run time from the inputs, never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import Case, CheckFailed, run_checks, self_check

#: The chapter's protocol for every recipe: 5 folds, and per fold this many epochs and
#: this batch size, class weights "balanced", seed 0.
FOLD_EPOCHS, FOLD_BATCH = 6, 32
#: The modelling exercise: a model small enough that 5 folds train within a minute.
MAX_PARAMS = 100_000


# ------------------------------------------------------------------ oversampling


def oversample_indices(y: Sequence[int], seed: int = 0) -> np.ndarray:
    """Indices (M,) into ``y`` (N,) that hold every class as often as the largest one.

    Every image appears at least once; the images of a smaller class are drawn again
    (at random, with replacement) until their class is as frequent as the largest;
    the result is shuffled. Same ``seed``, same indices.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    parts = []
    for c in np.flatnonzero(counts):
        idx = np.flatnonzero(y == c)
        parts += [idx, rng.choice(idx, size=counts.max() - len(idx), replace=True)]
    return rng.permutation(np.concatenate(parts))


def _oversample_problem(my_oversample: Callable, y: np.ndarray) -> str | None:
    """What is wrong with ``my_oversample(y, seed=0)``; None when nothing is."""
    idx = np.asarray(my_oversample(y, seed=0))
    counts = np.bincount(y)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        return (
            f"return a 1-D array of integer indices into y, got dtype {idx.dtype}, "
            f"shape {idx.shape}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= len(y)):
        return f"indices must lie in 0..{len(y) - 1}, got {idx.min()}..{idx.max()}"
    drawn = np.bincount(y[idx], minlength=len(counts))
    present = counts > 0
    if not np.all(drawn[present] == counts.max()):
        return (
            f"class counts after oversampling {drawn.tolist()}, expected "
            f"{counts.max()} for every class present (the largest class's count)"
        )
    if np.setdiff1d(np.arange(len(y)), idx).size:
        missing = np.setdiff1d(np.arange(len(y)), idx).size
        return (
            f"{missing} images never appear: keep every image at least once and "
            "only add copies of the rarer classes' images"
        )
    majority = np.flatnonzero(y == np.argmax(counts))
    if np.any(np.bincount(idx, minlength=len(y))[majority] != 1):
        return "the largest class needs no copies: each of its images appears once"
    again = np.asarray(my_oversample(y, seed=0))
    if not np.array_equal(idx, again):
        return (
            "the same seed must give the same indices: draw with "
            "np.random.default_rng(seed), not with np.random directly"
        )
    if len(np.unique(y)) > 1 and np.array_equal(idx, np.sort(idx)):
        return "shuffle the indices, so a batch is not all one class"
    return None


@self_check
def check_oversample(my_oversample: Callable, verbose: bool = True) -> None:
    """Check ``my_oversample(y, seed)``: indices that balance the classes of ``y``.

    Cases: a 3-to-1 example, the book's 70/30 split, balanced classes, three classes.
    """
    cases = {
        "3 to 1": np.array([0, 0, 0, 1]),
        "840 other, 360 bottles": np.array([0] * 840 + [1] * 360),
        "balanced": np.array([0, 1] * 20),
        "three classes": np.array([0] * 50 + [1] * 30 + [2] * 20),
    }
    for number, (name, y) in enumerate(cases.items(), start=1):
        try:
            problem = _oversample_problem(my_oversample, y)
        except (NotImplementedError, CheckFailed):
            raise
        except Exception as err:  # the reader's code crashed: say where
            raise CheckFailed(
                f"my_oversample: case {number} ({name}) raised "
                f"{type(err).__name__}: {err}"
            ) from err
        if problem:
            raise CheckFailed(f"my_oversample: case {number} ({name}): {problem}")
    if verbose:
        print(f"✓ my_oversample: all {len(cases)} checks passed")


# ------------------------------------------------------------------ flip TTA


class _Predict:
    """A stand-in for a model's prediction function, named readably in messages."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], name: str) -> None:
        self.fn, self.name = fn, name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(np.asarray(x))

    def __repr__(self) -> str:
        return self.name


def _left_half_probabilities(x: np.ndarray) -> np.ndarray:
    """Probabilities (N, 2) that depend on the left half of each image."""
    left = x[:, :, : x.shape[2] // 2].mean(axis=(1, 2, 3))
    p = 1 / (1 + np.exp(-8 * (left - 0.5)))
    return np.stack([1 - p, p], axis=1)


def _flip_hint(my_flip_average: Callable, predict: Callable, x: np.ndarray) -> str:
    try:
        got = np.asarray(my_flip_average(predict, x), dtype=float)
    except Exception:  # crashes are reported by run_checks
        return "average predict(x) and predict(mirror of x)"
    plain = np.asarray(predict(x))
    if got.shape == plain.shape and np.allclose(got, plain):
        return (
            "that is predict(x) alone: average it with the predictions on the "
            "mirrored images"
        )
    for axis, name in ((1, "upside down (axis 1, the rows)"), (3, "channels (axis 3)")):
        flipped = np.flip(x, axis=axis)
        if got.shape == plain.shape and np.allclose(
            got, (plain + np.asarray(predict(flipped))) / 2
        ):
            return (
                f"you flipped {name}; a left-right mirror reverses the columns: "
                "axis 2 of (N, H, W, C)"
            )
    return (
        "mirror left to right (reverse axis 2 of (N, H, W, C)), predict both, and "
        "take the mean of the two predictions"
    )


@self_check
def check_flip_average(my_flip_average: Callable, verbose: bool = True) -> None:
    """Check ``my_flip_average(predict, x)``: the mean of ``predict`` on ``x`` and on
    its left-right mirror image, for images (N, H, W, C)."""
    from ..crossval import flip_average

    rng = np.random.default_rng(10)
    gray = rng.random((4, 6, 6, 1))
    rgb = rng.random((3, 5, 8, 3))
    corner = _Predict(lambda x: x[:, 0, 0, 0], "predict = top-left pixel")
    halves = _Predict(_left_half_probabilities, "predict = (N, 2) from the left half")
    cases = [
        Case(
            (corner, gray),
            flip_average(corner, gray),
            hint=_flip_hint(my_flip_average, corner, gray),
        ),
        Case(
            (halves, rgb),
            flip_average(halves, rgb),
            hint=_flip_hint(my_flip_average, halves, rgb),
        ),
    ]
    run_checks("my_flip_average", my_flip_average, cases, verbose=verbose)


# -------------------------------------------------------------- a recipe of one's own


def cross_validate(
    build: Callable[..., Any],
    x: np.ndarray,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    epochs: int = FOLD_EPOCHS,
    batch_size: int = FOLD_BATCH,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold bottle probabilities (N,) of ``build(input_shape, seed)``.

    Chapter 10's protocol: per fold a fresh model, trained on the fold's training
    images ``x`` (N, H, W, C) uint8 with labels ``y`` (N,) for ``epochs`` epochs
    (batch ``batch_size``, class weights "balanced"; without TensorFlow's op
    determinism, which costs memory), scores the fold's test images.
    """
    import keras

    from .. import training
    from ..crossval import out_of_fold
    from ..data.splits import Splits

    x, y = np.asarray(x), np.asarray(y)

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        none = slice(0, 0)
        fold = Splits(x[train], y[train], x[none], y[none], x[none], y[none])
        run = training.train(
            build(x.shape[1:], seed=seed),
            fold,
            epochs=epochs,
            batch_size=batch_size,
            class_weight="balanced",
            seed=seed,
            verbose=0,
            deterministic=False,  # as chapter 10: less memory, runs differ a little
        )
        # small batches: a batch's feature maps take memory too
        proba = training.predict_proba(run.model, x[test], batch_size=batch_size)[:, 1]
        keras.backend.clear_session()
        return proba

    return out_of_fold(fit_predict, list(folds), len(y))


def build_deeper_cnn(
    input_shape: Sequence[int], seed: int = 0, filters: Sequence[int] = (16, 16, 32, 32)
) -> Any:
    """One solution to the modelling exercise: four blocks of 3x3 convolution (same
    padding) and 2x2 max-pooling, then the course CNN's softmax layer.

    Each block halves the maps (50 -> 25 -> 12 -> 6 -> 3 on 50x50 images), so the last
    convolution sees a larger part of the image and fewer features reach the dense layer
    than in the course CNN: about 17k parameters on 50x50x3 images.
    """
    import keras

    init = keras.initializers.GlorotUniform
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for i, n_filters in enumerate(filters):
        x = keras.layers.Conv2D(
            n_filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=init(seed + i),
        )(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(
        2, activation="softmax", kernel_initializer=init(seed + len(filters))
    )
    return keras.Model(inputs, out(x), name="deeper_cnn")


def _check_architecture(my_build_model: Callable, shape: tuple[int, ...]) -> int:
    """The reader's model's parameter count; ``CheckFailed`` if it cannot be used."""
    import keras

    from ..models import build_cnn, count_params

    model = my_build_model(shape, seed=0)
    where = f"my_build_model({shape}, seed=0)"
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"{where}: return a keras.Model, got {type(model).__name__}")
    if tuple(model.input_shape[1:]) != shape:
        raise CheckFailed(
            f"{where}: the model takes images {model.input_shape[1:]}, the data has "
            f"{shape}: build it with keras.Input(shape=input_shape)"
        )
    if tuple(model.output_shape[1:]) != (2,):
        raise CheckFailed(
            f"{where}: the model must end in 2 class probabilities (a Dense(2, "
            f"activation='softmax')), its output is {model.output_shape[1:]}"
        )
    n = count_params(model)
    if n > MAX_PARAMS:
        raise CheckFailed(
            f"{where}: {n:,} parameters; stay under {MAX_PARAMS:,} so that 5 folds "
            "train within a minute (fewer filters, or pool earlier)"
        )
    if n == count_params(build_cnn(shape)):
        raise CheckFailed(
            f"{where}: this is the course CNN ({n:,} parameters): change something"
        )
    keras.backend.clear_session()
    return n


def paired_verdict(per_fold: dict[str, float], boot: dict[str, float]) -> str:
    """Chapter 10's verdict on a paired difference (A minus B): ``"better"`` when its
    per-fold and its bootstrap interval both lie above zero, ``"worse"`` when both lie
    below, ``"unclear"`` otherwise."""
    if per_fold["low"] > 0 and boot["low"] > 0:
        return "better"
    if per_fold["high"] < 0 and boot["high"] < 0:
        return "worse"
    return "unclear"


@self_check
def check_recipe(
    my_build_model: Callable,
    x: np.ndarray,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    baseline: np.ndarray,
    verbose: bool = True,
) -> dict[str, Any]:
    """Measure ``my_build_model(input_shape, seed)`` with the chapter's protocol.

    Checks the model (images ``x.shape[1:]`` in, 2 class probabilities out, at most
    :data:`MAX_PARAMS` parameters, not the course CNN), trains it on every fold
    (:func:`cross_validate`) and prints its mean out-of-fold F1 with a 90 % interval,
    its PR-AUC, its confusion matrix (out-of-fold, thresholds from the other folds)
    and its paired difference to ``baseline`` (out-of-fold probabilities (N,) of a
    recipe on the same folds) with a verdict. Passes when the model ranks bottles
    better than chance: a mean PR-AUC above the bottle share. Returns the summary of
    :func:`wastelab.crossval.summarize` with ``"verdict"`` added.
    """
    from ..crossval import paired_bootstrap, paired_fold_differences, summarize
    from ..metrics import confusion_matrix

    x, y = np.asarray(x), np.asarray(y)
    n_params = _check_architecture(my_build_model, tuple(int(d) for d in x.shape[1:]))
    oof = cross_validate(my_build_model, x, y, folds)
    mine, base = summarize(y, [oof], folds), summarize(y, [baseline], folds)
    ratio = 1 / (len(folds) - 1)
    per_fold = paired_fold_differences(mine["f1"], base["f1"], 0.9, ratio)
    boot = paired_bootstrap(y, mine["decisions"], base["decisions"], n_boot=1000)
    mine["verdict"] = paired_verdict(per_fold, boot)
    share = float(np.mean(y))
    floor = 2 * share / (1 + share)  # F1 of always answering "bottle"
    if verbose:
        cm = confusion_matrix(y, mine["decisions"][0].astype(int))
        words = {
            "better": "clearly better: both paired intervals above zero",
            "worse": "clearly worse: both paired intervals below zero",
            "unclear": "no clear difference: a paired interval includes zero",
        }
        print(
            f"your model: {n_params:,} parameters\n"
            f"mean out-of-fold F1 {mine['mean']:.3f} [{mine['low']:.3f}, "
            f"{mine['high']:.3f}] (always 'bottle': {floor:.3f})\n"
            f"PR-AUC {mine['pr_auc']:.3f} (random scores: {share:.3f})\n"
            f"confusion matrix (rows: true other, bottle; columns: predicted):\n{cm}\n"
            f"minus the baseline (F1 {base['mean']:.3f}): per fold "
            f"{per_fold['mean']:+.3f} [{per_fold['low']:+.3f}, "
            f"{per_fold['high']:+.3f}]\n"
            f"{'by paired bootstrap':>32} [{boot['low']:+.3f}, "
            f"{boot['high']:+.3f}]\n"
            f"{words[mine['verdict']]}"
        )
    if mine["pr_auc"] <= share:
        raise CheckFailed(
            f"my_build_model: mean PR-AUC {mine['pr_auc']:.3f} is no better than "
            f"random scores ({share:.3f}): the model has not learned to rank bottles "
            "first\n  hint: batch normalisation after each convolution helps a small "
            "network learn in a few epochs"
        )
    if verbose:
        print("✓ my_build_model: trains and ranks bottles better than chance")
    return mine

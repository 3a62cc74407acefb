"""Self-checks for chapter 8, the multilayer perceptron: counting its parameters by
hand, building a deeper one in Keras, and training it with two dropout rates over
three seeds.

Reference answers (tested, shown in the chapter's solutions):

- :func:`count_mlp_params`: the parameters of a fully connected network on images;
- :func:`build_two_hidden_mlp`: Flatten, two Dense ReLU layers, Dense softmax;
- :func:`train_mlp_with_dropout`: the course's MLP with a given dropout rate, trained.

In a notebook each ``check_*`` prints its verdict: passed, wrong (which input failed,
with a hint) or not done yet. Elsewhere a wrong answer raises
:class:`~wastelab.exercises.core.CheckFailed` and an unfinished one its
``NotImplementedError``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import Case, CheckFailed, run_checks, self_check
from .runs import forget, validation_scores

#: The modelling exercise: the course's 30 epochs per run.
RUN_EPOCHS = 30


def count_mlp_params(
    input_shape: Sequence[int], hidden: Sequence[int], n_classes: int
) -> int:
    """Parameters of Flatten -> Dense(h) for each h in ``hidden`` -> Dense(n_classes).

    ``input_shape`` is (H, W, C): flattening gives H * W * C inputs. A Dense layer from
    ``n_in`` to ``n_out`` units holds an (n_in, n_out) weight matrix and ``n_out``
    biases. Dropout and Flatten have no parameters.
    """
    sizes = [math.prod(input_shape), *hidden, n_classes]
    return int(
        sum(
            n_in * n_out + n_out
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
    )


def _variants(
    input_shape: Sequence[int], hidden: Sequence[int], n_classes: int
) -> list[tuple[int, str]]:
    """Results of the typical slips on these arguments, each with its hint."""
    sizes = [math.prod(input_shape), *hidden, n_classes]
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    no_channels = [input_shape[0] * input_shape[1], *hidden, n_classes]
    return [
        (
            sum(a * b for a, b in pairs),
            "every Dense layer also has one bias per unit: n_in * n_out weights PLUS "
            "n_out biases",
        ),
        (
            sum(a * b + 1 for a, b in pairs),
            "a Dense layer has one bias per unit (n_out of them), not one per layer",
        ),
        (
            sum(a * b + b for a, b in pairs[:-1]),
            "do not forget the output layer: the last hidden layer connects to "
            "n_classes units",
        ),
        (
            sum(
                a * b + b
                for a, b in zip(no_channels[:-1], no_channels[1:], strict=True)
            ),
            "flattening an (H, W, C) image gives H * W * C inputs: count the "
            "channels too",
        ),
        (
            sum(a * b + a for a, b in pairs),
            "the biases belong to the receiving units: a layer from n_in to n_out "
            "units has n_out biases, not n_in",
        ),
    ]


def _count_hint(answer: Callable, args: tuple) -> str:
    """A hint naming the typical slip that ``answer``'s result on ``args`` shows."""
    general = (
        "sum over the layers, input -> hidden ... -> output: n_in * n_out + n_out per "
        "layer, starting from n_in = H * W * C"
    )
    try:
        got = np.asarray(answer(*args), dtype=float)
    except Exception:  # the checks report the crash itself
        return general
    if got.size != 1:
        return "return one whole number, the total over all layers"
    for wrong, hint in _variants(*args):
        if abs(float(got.ravel()[0]) - wrong) < 0.5:
            return hint
    return general


@self_check
def check_mlp_param_count(my_mlp_param_count: Callable, verbose: bool = True) -> None:
    """Check ``my_mlp_param_count(input_shape, hidden, n_classes)`` -> int.

    Cases: the course's MLP (320,386), the same on colour images, no hidden layer at
    all (chapter 5's network), two hidden layers with ten classes.
    """
    cases = []
    for args in [
        ((50, 50, 1), [128], 2),
        ((50, 50, 3), [128], 2),
        ((50, 50, 1), [], 2),
        ((28, 28, 1), [64, 32], 10),
    ]:
        hint = _count_hint(my_mlp_param_count, args)
        if args[1] == []:
            hint = (
                "with no hidden layer the network is Flatten -> Dense(n_classes): "
                "H * W * C * n_classes + n_classes. " + hint
            )
        cases.append(Case(args, count_mlp_params(*args), hint=hint))
    run_checks("my_mlp_param_count", my_mlp_param_count, cases, verbose=verbose)


def build_two_hidden_mlp(
    first: int,
    second: int,
    input_shape: Sequence[int] = (50, 50, 1),
    n_classes: int = 2,
):
    """Flatten, Dense(first) ReLU, Dense(second) ReLU, Dense(n_classes) softmax.

    ``input_shape`` (H, W, C); the model maps images (N, H, W, C) to probabilities
    (N, n_classes).
    """
    import keras

    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(first, activation="relu")(x)
    x = keras.layers.Dense(second, activation="relu")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="two_hidden_mlp")


def _inspect(model, first: int, second: int) -> None:
    """Raise CheckFailed with a hint for the first way ``model`` is not as asked."""
    import keras

    from ..models import count_params

    where = f"my_two_hidden_mlp({first}, {second})"
    if not isinstance(model, keras.Model):
        raise CheckFailed(
            f"{where} returned {type(model).__name__}, not a keras.Model\n  hint: "
            "end with `return keras.Model(inputs, outputs)` (or return your "
            "keras.Sequential)"
        )
    try:
        in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError) as err:
        raise CheckFailed(
            f"{where}: the model has no known input shape ({err})\n  hint: start "
            "with keras.Input(shape=(50, 50, 1))"
        ) from err
    if in_shape != (None, 50, 50, 1):
        raise CheckFailed(
            f"{where}: input shape {in_shape}, expected (None, 50, 50, 1)\n  "
            "hint: start with keras.Input(shape=(50, 50, 1)): one 50x50 "
            "grayscale image per example"
        )
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if out_shape != (None, 2):
        hint = "the model must end in Dense(2): one probability per class"
        if len(out_shape) == 4:
            hint = (
                "a Dense layer on an image works on the last axis only (pixel by "
                "pixel): put keras.layers.Flatten() first, to turn (50, 50, 1) into "
                "2,500 inputs"
            )
        raise CheckFailed(
            f"{where}: output shape {out_shape}, expected (None, 2)\n  hint: {hint}"
        )
    units = [layer.units for layer in dense]
    if units != [first, second, 2]:
        raise CheckFailed(
            f"{where}: Dense layers with {units} units, expected "
            f"[{first}, {second}, 2]\n  hint: use the two sizes the function "
            "receives, in order, then Dense(2) for the output"
        )
    activations = [layer.get_config()["activation"] for layer in dense]
    if activations != ["relu", "relu", "softmax"]:
        raise CheckFailed(
            f"{where}: activations {activations}, expected ['relu', 'relu', "
            "'softmax']\n  hint: ReLU in the hidden layers, softmax at the output "
            "so the two outputs are probabilities adding up to 1"
        )
    expected = count_mlp_params((50, 50, 1), [first, second], 2)
    got = count_params(model)
    if got != expected:
        raise CheckFailed(
            f"{where}: {got:,} parameters, expected {expected:,}\n  hint: "
            "only Flatten, the three Dense layers (with biases) and, if you "
            "like, Dropout: no other layers with weights"
        )
    probs = np.asarray(model(np.zeros((3, 50, 50, 1), np.float32), training=False))
    if probs.shape != (3, 2) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-5):
        raise CheckFailed(
            f"{where}: outputs {probs.round(3)} do not add up to 1 per image\n"
            "  hint: softmax at the output"
        )


@self_check
def check_two_hidden_mlp(my_two_hidden_mlp: Callable, verbose: bool = True) -> None:
    """Check ``my_two_hidden_mlp(first, second)`` -> a keras.Model on 50x50x1 images.

    Builds it for (64, 32) and (16, 8) and inspects each: input and output shapes, the
    Dense layers' sizes and activations, the parameter count (from
    :func:`count_mlp_params`) and outputs that add up to 1.
    """
    if not callable(my_two_hidden_mlp):
        raise CheckFailed(
            f"my_two_hidden_mlp: expected a function, got "
            f"{type(my_two_hidden_mlp).__name__}"
        )
    sizes = [(64, 32), (16, 8)]
    for first, second in sizes:
        try:
            model = my_two_hidden_mlp(first, second)
        except NotImplementedError:
            raise
        except Exception as err:
            raise CheckFailed(
                f"my_two_hidden_mlp({first}, {second}) raised "
                f"{type(err).__name__}: {err}"
            ) from err
        _inspect(model, first, second)
    if verbose:
        print(
            f"✓ my_two_hidden_mlp: all {len(sizes)} models have the right layers and "
            f"{count_mlp_params((50, 50, 1), sizes[0], 2):,} and "
            f"{count_mlp_params((50, 50, 1), sizes[1], 2):,} parameters"
        )


def train_mlp_with_dropout(data: Any, rate: float, seed: int) -> Any:
    """Build the course's MLP with dropout ``rate`` and train it for 30 epochs.

    The chapter's recipe on ``data`` (a ``Splits``): Adam, balanced class weights,
    ``seed`` for the weights and the data order. Returns ``training.train``'s result,
    with the trained ``.model`` and its ``.history``.
    """
    from wastelab import models, training

    model = models.build_mlp(data.image_shape, dropout=rate, seed=seed)
    return training.train(
        model,
        data,
        epochs=RUN_EPOCHS,
        class_weight="balanced",
        seed=seed,
        verbose=0,
    )


@self_check
def check_dropout_runs(
    my_dropout_run: Callable,
    data: Any,
    rates: Sequence[float] = (0.2, 0.5),
    seeds: Sequence[int] = (0, 1, 2),
    verbose: bool = True,
) -> dict[float, list[float]]:
    """Train ``my_dropout_run(data, rate, seed)`` for each rate and seed; check, report.

    Checks that every run is the course's MLP (its parameter count) with one Dropout
    layer of the given rate, trained for 30 epochs. Prints, per rate, the validation F1
    of the bottle class for each seed, their mean and spread, the confusion matrix
    summed over the seeds, both constant guesses' F1 and a computed verdict. Returns
    ``{rate: [F1 per seed]}``.
    """
    scores: dict[float, list[float]] = {}
    matrices: dict[float, np.ndarray] = {}
    one_class = 0  # runs that answer one class for more than 95 % of the images
    for rate in rates:
        scores[rate], matrices[rate] = [], np.zeros((2, 2), dtype=np.int64)
        for seed in seeds:
            result = my_dropout_run(data, rate, seed)
            _check_dropout_run(result, data, rate, seed)
            f1, matrix = validation_scores(result.model, data)
            scores[rate].append(f1)
            matrices[rate] += matrix
            one_class += not 0.05 <= matrix[:, 1].sum() / matrix.sum() <= 0.95
            forget(result)
    if verbose:
        print(_dropout_report(scores, matrices, data, seeds))
        print(_dropout_verdict(scores, one_class))
        print(
            f"✓ my_dropout_run: {len(rates) * len(seeds)} runs, each the course's MLP "
            f"with the rate asked for, {RUN_EPOCHS} epochs"
        )
    return scores


def _check_dropout_run(result: Any, data: Any, rate: float, seed: int) -> None:
    """Raise ``CheckFailed`` unless ``result`` is the course's MLP trained as asked."""
    import keras

    from wastelab import models

    where = f"my_dropout_run(data, {rate:g}, {seed})"
    model = getattr(result, "model", None)
    history = getattr(result, "history", None)
    if not isinstance(model, keras.Model) or not isinstance(history, dict):
        raise CheckFailed(
            f"{where}: returned {type(result).__name__}, expected what training.train "
            f"returns (a result with .model and .history)"
        )
    expected = count_mlp_params(data.image_shape, [128], len(data.class_names))
    if models.count_params(model) != expected:
        raise CheckFailed(
            f"{where}: the model has {models.count_params(model):,} parameters, the "
            f"course's MLP has {expected:,}\n  hint: Flatten, Dense 128 ReLU, Dropout, "
            f"Dense 2 softmax, on images of shape {data.image_shape}"
        )
    found = [
        float(layer.rate)
        for layer in model.layers
        if isinstance(layer, keras.layers.Dropout)
    ]
    if len(found) != 1 or not math.isclose(found[0], rate):
        raise CheckFailed(
            f"{where}: dropout rates {found}, expected one Dropout layer with rate "
            f"{rate:g}\n  hint: pass the rate the function receives to the Dropout "
            f"layer (models.build_mlp has a dropout argument)"
        )
    epochs = len(history.get("loss", []))
    if epochs != RUN_EPOCHS:
        raise CheckFailed(
            f"{where}: trained {epochs} epochs, expected {RUN_EPOCHS}\n  hint: "
            f"epochs={RUN_EPOCHS}, the course's number"
        )


def _dropout_report(
    scores: dict[float, list[float]],
    matrices: dict[float, np.ndarray],
    data: Any,
    seeds: Sequence[int],
) -> str:
    """The table of F1 per rate and seed, the constant guesses, the summed matrices."""
    from wastelab import metrics

    lines = [
        f"validation F1 of the bottle class ({len(data.y_val)} images, "
        f"{int(np.sum(data.y_val == 1))} bottles)",
        "dropout" + "".join(f"  seed {s}" for s in seeds) + "    mean  spread",
    ]
    for rate, f1s in scores.items():
        cells = "".join(
            f"  {f:{len(f'seed {s}')}.3f}" for f, s in zip(f1s, seeds, strict=True)
        )
        spread = max(f1s) - min(f1s)
        lines.append(f"{rate:>7g}{cells}  {np.mean(f1s):6.3f}  {spread:6.3f}")
    guesses = metrics.constant_baselines(data.y_val, data.class_names)
    lines.append(
        "constant guesses: "
        + ", ".join(f"{name} F1 {r['f1']:.3f}" for name, r in guesses.items())
    )
    lines.append("confusion matrices summed over the seeds, [[TN, FP], [FN, TP]]:")
    for rate, m in matrices.items():
        lines.append(f"{rate:>7g}  {m.tolist()}")
    return "\n".join(lines)


def _dropout_verdict(scores: dict[float, list[float]], one_class: int) -> str:
    """Computed sentences: does the best rate's lead exceed the spread over seeds?"""
    means = {rate: float(np.mean(f1s)) for rate, f1s in scores.items()}
    best, worst = max(means, key=means.get), min(means, key=means.get)
    lead = means[best] - means[worst]
    spread = max(max(f1s) - min(f1s) for f1s in scores.values())
    n_runs = sum(len(f1s) for f1s in scores.values())
    if lead > spread:
        verdict = (
            f"Dropout {best:g} leads by {lead:.3f} in mean F1, more than the spread "
            f"between the seeds of any rate ({spread:.3f})."
        )
    else:
        verdict = (
            f"The mean F1 scores differ by {lead:.3f}, no more than the spread between "
            f"the seeds of one rate ({spread:.3f}): these runs cannot tell the rates "
            f"apart."
        )
    return textwrap.fill(
        f"{verdict} {one_class} of {n_runs} runs answered one class for more than "
        f"95 % of the validation images.",
        width=88,
    )

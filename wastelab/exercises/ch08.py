"""Self-checks for chapter 8, the multilayer perceptron: counting its parameters by hand and
building a deeper one in Keras.

Reference answers (tested, shown in the chapter's solutions):

- :func:`mlp_param_count`: the parameters of a fully connected network on images;
- :func:`build_two_hidden_mlp`: Flatten, two Dense ReLU layers, Dense softmax.

Each ``check_*`` prints a one-line verdict when every case passes and raises
:class:`~wastelab.exercises.core.CheckFailed` (saying which input failed, with a hint) at
the first wrong one; an answer that still raises ``NotImplementedError`` passes it through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .core import Case, CheckFailed, run_checks, self_check


def mlp_param_count(
    input_shape: Sequence[int], hidden: Sequence[int], n_classes: int
) -> int:
    """Parameters of Flatten -> Dense(h) for each h in ``hidden`` -> Dense(n_classes).

    ``input_shape`` is (H, W, C): flattening gives H * W * C inputs. A Dense layer from
    ``n_in`` to ``n_out`` units holds an (n_in, n_out) weight matrix and ``n_out`` biases.
    Dropout and Flatten have no parameters.
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
            "every Dense layer also has one bias per unit: n_in * n_out weights PLUS n_out biases",
        ),
        (
            sum(a * b + 1 for a, b in pairs),
            "a Dense layer has one bias per unit (n_out of them), not one per layer",
        ),
        (
            sum(a * b + b for a, b in pairs[:-1]),
            "do not forget the output layer: the last hidden layer connects to n_classes units",
        ),
        (
            sum(
                a * b + b
                for a, b in zip(no_channels[:-1], no_channels[1:], strict=True)
            ),
            "flattening an (H, W, C) image gives H * W * C inputs: count the channels too",
        ),
        (
            sum(a * b + a for a, b in pairs),
            "the biases belong to the receiving units: a layer from n_in to n_out units has "
            "n_out biases, not n_in",
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

    Cases: the course's MLP (320,386), the same on colour images, no hidden layer at all
    (chapter 5's network), two hidden layers with ten classes.
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
        cases.append(Case(args, mlp_param_count(*args), hint=hint))
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
    """Raise CheckFailed with a hint for the first way ``model`` differs from the reference."""
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
                "a Dense layer on an image works on the last axis only (pixel by pixel): "
                "put keras.layers.Flatten() first, to turn (50, 50, 1) into 2,500 inputs"
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
    expected = mlp_param_count((50, 50, 1), [first, second], 2)
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
    """Check ``my_two_hidden_mlp(first, second)`` -> a keras.Model on (50, 50, 1) images.

    Builds it for (64, 32) and (16, 8) and inspects each: input and output shapes, the
    Dense layers' sizes and activations, the parameter count (from :func:`mlp_param_count`)
    and outputs that add up to 1.
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
            f"{mlp_param_count((50, 50, 1), sizes[0], 2):,} and "
            f"{mlp_param_count((50, 50, 1), sizes[1], 2):,} parameters"
        )

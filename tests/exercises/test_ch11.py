"""Chapter 11 self-checks: the references pass, typical mistakes fail with the right hint,
and no stored answer ships in the package."""

import math

import pytest

from wastelab.data.pipeline import steps_per_epoch
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch11 import (
    check_scaled_learning_rate,
    check_steps_on_four_gpus,
    global_batch_size,
    scaled_learning_rate,
)
from wastelab.training import GPU_BATCH_SIZE


def _stub(*args):
    raise NotImplementedError("Exercise: write me")


def test_references():
    assert global_batch_size(256, 4) == 1024
    assert scaled_learning_rate(1e-3, 32, 128) == pytest.approx(4e-3)
    assert scaled_learning_rate(0.1, 256, 64) == pytest.approx(0.025)
    assert scaled_learning_rate(1e-3, 128, 128) == 1e-3
    # the exercise's 256 per GPU is train's default
    assert GPU_BATCH_SIZE == 256
    with pytest.raises(ValueError, match="batch"):
        scaled_learning_rate(1e-3, 0, 32)
    with pytest.raises(ValueError, match="n_replicas"):
        global_batch_size(256, 0)


def test_scaled_learning_rate_check(capsys):
    assert check_scaled_learning_rate(scaled_learning_rate) is None
    assert "✓ my_scaled_learning_rate: all 4 checks passed" in capsys.readouterr().out
    check_scaled_learning_rate(lambda lr, b0, b: lr / b0 * b)  # another correct form
    with pytest.raises(NotImplementedError):
        check_scaled_learning_rate(_stub)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lr, b0, b: lr * b0 / b, "not by base_batch / batch"),
        (lambda lr, b0, b: lr * math.sqrt(b / b0), "square root"),
        (lambda lr, b0, b: lr * (b // b0), "integer division"),
        (lambda lr, b0, b: lr * b, "return base_lr when batch == base_batch"),
    ],
)
def test_scaled_learning_rate_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_scaled_learning_rate(wrong, verbose=False)


def test_steps_check(capsys):
    # the right count, computed as train counts: the global batch, a part-filled last
    right = steps_per_epoch(10_000, global_batch_size(GPU_BATCH_SIZE, 4))
    assert right == 10
    check_steps_on_four_gpus(right)
    assert "✓ n_steps: all 1 checks passed" in capsys.readouterr().out
    check_steps_on_four_gpus(10.0, verbose=False)  # a whole float is fine too
    for unfinished in (..., None):
        with pytest.raises(NotImplementedError):
            check_steps_on_four_gpus(unfinished)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (40, "that is the count for one GPU"),
        (39, "not 256"),
        (9, "round up"),
        (10_000 / 1024, "steps are whole numbers"),
        (3, "divide the 10,000 images"),
        ("ten", "expected a whole number"),
    ],
)
def test_steps_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_steps_on_four_gpus(wrong, verbose=False)


def test_no_stored_answer_in_the_package():
    import wastelab.exercises.ch11 as ch11

    assert not [name for name in dir(ch11) if name.endswith("_answer")]

"""Self-checks for chapter 11, scaling up: batch sizes and learning rates on replicas.

Reference answers (tested, shown in the chapter's solutions):

- :func:`global_batch_size`: the batch one training step consumes over all replicas;
- :func:`scaled_learning_rate`: the linear scaling rule for a larger (or smaller) batch.

:func:`check_steps_on_four_gpus` checks a value; it computes the right one itself, from
the exercise's numbers (graders find the literal in ``tools/answers.py``).

Each ``check_*`` prints a one-line verdict when every case passes and raises
:class:`~wastelab.exercises.core.CheckFailed` (which input failed, with a hint) at the
first wrong one; an answer that still raises ``NotImplementedError`` passes it through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..data.pipeline import steps_per_epoch
from .core import Case, CheckFailed, check_value, run_checks, self_check

# The value exercise: a training set, train's default batch per GPU, four GPUs.
EXERCISE_IMAGES = 10_000
EXERCISE_PER_GPU_BATCH = 256
EXERCISE_GPUS = 4


def global_batch_size(per_replica: int, n_replicas: int) -> int:
    """Images one training step consumes: ``per_replica`` on each of ``n_replicas``.

    With ``tf.distribute.MirroredStrategy`` every replica (GPU) takes its own slice of
    the global batch, so one step sees ``per_replica * n_replicas`` images.
    """
    if per_replica < 1 or n_replicas < 1:
        raise ValueError(
            f"per_replica and n_replicas must be >= 1, got {per_replica}, {n_replicas}"
        )
    return int(per_replica) * int(n_replicas)


def scaled_learning_rate(base_lr: float, base_batch: int, batch: int) -> float:
    """The linear scaling rule: ``batch`` k times ``base_batch`` -> k times ``base_lr``.

    ``base_lr`` is a learning rate that worked with batches of ``base_batch`` images;
    the result is a starting point for batches of ``batch`` images (Goyal et al., 2017).
    """
    if base_batch < 1 or batch < 1:
        raise ValueError(
            f"batch sizes must be >= 1, got base_batch={base_batch}, batch={batch}"
        )
    return float(base_lr) * batch / base_batch


@self_check
def check_scaled_learning_rate(
    my_scaled_learning_rate: Callable, verbose: bool = True
) -> None:
    """Check ``my_scaled_learning_rate(base_lr, base_batch, batch)`` (linear rule)."""
    cases = [
        Case(
            (1e-3, 32, 32),
            scaled_learning_rate(1e-3, 32, 32),
            hint="the same batch keeps the same learning rate: return base_lr when "
            "batch == base_batch",
        ),
        Case(
            (1e-3, 32, 128),
            scaled_learning_rate(1e-3, 32, 128),
            hint="a batch 4 times larger gets a learning rate 4 times larger (linear "
            "rule: multiply base_lr by batch / base_batch; not by base_batch / batch, "
            "and not by the square root of the ratio)",
        ),
        Case(
            (0.1, 256, 64),
            scaled_learning_rate(0.1, 256, 64),
            hint="a smaller batch gets a smaller learning rate: 64 / 256 is 0.25, but "
            "64 // 256 (integer division) is 0; use true division /",
        ),
        Case(
            (3e-4, 128, 1024),
            scaled_learning_rate(3e-4, 128, 1024),
            hint="multiply base_lr by batch / base_batch (here 1024 / 128 = 8)",
        ),
    ]
    run_checks(
        "my_scaled_learning_rate", my_scaled_learning_rate, cases, verbose=verbose
    )


@self_check
def check_steps_on_four_gpus(n_steps: Any, verbose: bool = True) -> None:
    """Check the reader's steps per epoch: 10,000 images, 4 GPUs, 256 per GPU."""
    if n_steps is Ellipsis or n_steps is None:
        raise NotImplementedError("n_steps: fill in your answer first")
    per_gpu, gpus = EXERCISE_PER_GPU_BATCH, EXERCISE_GPUS
    global_batch = global_batch_size(per_gpu, gpus)
    expected = steps_per_epoch(EXERCISE_IMAGES, global_batch)
    one_gpu = steps_per_epoch(EXERCISE_IMAGES, per_gpu)
    hints = {
        one_gpu: f"that is the count for one GPU: with {gpus} replicas each step "
        f"consumes {gpus} x {per_gpu} images",
        one_gpu - 1: f"each step consumes the global batch, {gpus} x {per_gpu} images, "
        f"not {per_gpu}",
        EXERCISE_IMAGES // global_batch: "the last, smaller batch is a step too: "
        "round up (ceil), not down",
    }
    try:
        got = float(n_steps)
    except (TypeError, ValueError) as err:
        raise CheckFailed(f"n_steps: expected a whole number, got {n_steps!r}") from err
    if not got.is_integer():
        hint = (
            "steps are whole numbers: round up, since the part-filled last batch is "
            f"one more step (and one step consumes {gpus} x {per_gpu} images)"
        )
    else:
        hint = hints.get(
            int(got),
            f"divide the {EXERCISE_IMAGES:,} images by the global batch (per GPU "
            "times GPUs) and round up",
        )
    check_value(
        "n_steps",
        int(got) if got.is_integer() else got,
        expected,
        hint=hint,
        verbose=verbose,
    )

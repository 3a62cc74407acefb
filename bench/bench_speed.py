"""Training speed as time to quality (the DAWNBench idea): course recipe vs train's default.

On the book's default data (1,500 synthetic scenes, 50x50x1, ``prepare("synthetic")``) the
course CNN is trained twice per seed, from the same initial weights, class weights balanced:

- the course recipe: ``train(loop="course")`` = ``model.fit`` on numpy arrays, batch 32,
  Adam 1e-3, for ``--epochs`` (30) epochs; its *time to best* is the cumulative wall time
  (from the call to ``train``, model building and validation included) at the epoch of its
  best validation bottle F1;
- ``train``'s default recipe (``loop="fast"``: tf.data, batch 128 on CPU, 16 compiled steps per
  call); its *time to quality* is the cumulative wall time at the first epoch whose
  validation F1 reaches the course recipe's best.

The speed-up is the ratio of the two times (target: >= 4x). Also measured: steady-state
training throughput (images/s, first epoch left out) of both loops, with op determinism off
(measured first, as ``enable_op_determinism`` cannot be undone in a process) and on
(``train``'s default, used for everything else); the CNN's FLOPs per image counted from its
layers; and the machine's float32 matmul rate, so throughput reads as a fraction of it.

    .venv/bin/python bench/bench_speed.py [--seeds 0 1 2] [--epochs 30] [--json PATH] [--quick]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common  # noqa: E402  (after the TF log level)

NAME = "speed"
TARGET_SPEEDUP = 4.0
MATMUL_SIZE = 2048
COURSE_LEARNING_RATE = 1e-3  # the course's Adam


# --------------------------------------------------------------------------------------------
# Arithmetic: FLOPs of a model, FLOP/s of the machine
# --------------------------------------------------------------------------------------------


def layer_flops(model: Any) -> list[dict[str, Any]]:
    """Forward FLOPs per image of every Conv2D and Dense layer (nested models included).

    A convolution costs 2*Kh*Kw*Cin*Cout*Hout*Wout (a multiply and an add per weight and
    output position), a dense layer 2*In*Out; biases, activations and pooling are left out
    (under 2 % for the course CNN).
    """
    import keras

    rows: list[dict[str, Any]] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            rows += [
                {**r, "layer": f"{layer.name}/{r['layer']}"} for r in layer_flops(layer)
            ]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            c_in = int(layer.input.shape[-1])
            _, h_out, w_out, c_out = (
                int(d) if d is not None else 0 for d in layer.output.shape
            )
            rows.append(
                {
                    "layer": layer.name,
                    "kind": "conv",
                    "flops": 2 * kh * kw * c_in * c_out * h_out * w_out,
                }
            )
        elif isinstance(layer, keras.layers.Dense):
            rows.append(
                {
                    "layer": layer.name,
                    "kind": "dense",
                    "flops": 2 * int(layer.input.shape[-1]) * int(layer.units),
                }
            )
    return rows


def model_flops(model: Any) -> dict[str, Any]:
    """Forward and training FLOPs per image of ``model``.

    Training is counted two ways: the usual rule of thumb, 3x forward (forward, gradient of
    the weights, gradient of the inputs), and exactly that minus the first layer's input
    gradient, which backpropagation never needs.
    """
    rows = layer_flops(model)
    forward = sum(r["flops"] for r in rows)
    first = rows[0]["flops"] if rows else 0
    return {
        "layers": rows,
        "forward": forward,
        "train_3x": 3 * forward,
        "train_exact": 3 * forward - first,
    }


def matmul_rate(n: int = MATMUL_SIZE, reps: int = 5) -> dict[str, Any]:
    """Float32 matmul FLOP/s (2*n**3 per product) with TensorFlow and with numpy, best of
    ``reps`` after one warm-up; numpy's BLAS library is named (threadpoolctl)."""
    import numpy as np
    import tensorflow as tf

    def best_seconds(run) -> tuple[float, float]:
        run()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times), statistics.median(times)

    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    ta, tb = tf.constant(a), tf.constant(b)
    flop = 2.0 * n**3
    tf_best, tf_median = best_seconds(lambda: tf.linalg.matmul(ta, tb).numpy())
    np_best, np_median = best_seconds(lambda: a @ b)
    blas = {}
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            blas = {
                k: info[0].get(k)
                for k in ("internal_api", "version", "architecture", "num_threads")
            }
    except ImportError:
        pass
    return {
        "n": n,
        "reps": reps,
        "tensorflow_gflops": flop / tf_best / 1e9,
        "tensorflow_gflops_median": flop / tf_median / 1e9,
        "numpy_gflops": flop / np_best / 1e9,
        "numpy_gflops_median": flop / np_median / 1e9,
        "numpy_blas": blas,
    }


# --------------------------------------------------------------------------------------------
# Timed training runs
# --------------------------------------------------------------------------------------------


def _epoch_clock(start: float) -> Any:
    """A Keras callback recording the wall time since ``start`` at each epoch's end."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.elapsed: list[float] = []

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.elapsed.append(time.perf_counter() - start)

    return EpochClock()


def timed_run(
    data: Any,
    loop: str,
    epochs: int,
    seed: int,
    deterministic: bool = True,
    learning_rate: float | None = None,
) -> dict[str, Any]:
    """Train the course CNN with ``loop`` and train's defaults otherwise (``learning_rate``
    None: train's default), class weights balanced; return per-epoch cumulative wall time and
    validation F1, and throughput."""
    from wastelab import training
    from wastelab.models import build_cnn

    load_before = common.load_average()
    start = time.perf_counter()
    cpu_start = time.process_time()
    clock = _epoch_clock(start)
    extra = {} if learning_rate is None else {"learning_rate": learning_rate}
    result = training.train(
        lambda: build_cnn(input_shape=data.image_shape, seed=seed),
        data,
        epochs=epochs,
        loop=loop,
        class_weight="balanced",
        seed=seed,
        verbose=0,
        deterministic=deterministic,
        callbacks=[clock],
        **extra,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    on_cpu = result.device.startswith("CPU")
    batch = (
        training.COURSE_BATCH_SIZE
        if loop == "course"
        else training.CPU_BATCH_SIZE
        if on_cpu
        else training.GPU_BATCH_SIZE
    )
    f1 = result.history["val_f1"]
    epoch_walls = [
        b - a for a, b in zip([0.0, *clock.elapsed[:-1]], clock.elapsed, strict=True)
    ]
    return {
        "loop": loop,
        "seed": seed,
        "deterministic": deterministic,
        "batch_size": batch,
        "learning_rate": learning_rate or "train's default",
        "steps_per_execution": 1 if loop == "course" else training.STEPS_PER_EXECUTION,
        "device": result.device,
        "epochs": result.epochs_run,
        "val_f1": f1,
        "elapsed": clock.elapsed,
        "best_val_f1": max(f1),
        "best_epoch": f1.index(max(f1)) + 1,
        "images_per_second": result.images_per_second,
        "steady_epoch_seconds": statistics.median(epoch_walls[1:] or epoch_walls),
        "first_epoch_seconds": epoch_walls[0],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_cores_busy": cpu / wall,
        "load_average_before": load_before,
        "load_average_after": common.load_average(),
    }


def first_reaching(run: dict[str, Any], target: float) -> int | None:
    """The index of the first epoch whose validation F1 is >= ``target`` (None if none)."""
    return next((i for i, f in enumerate(run["val_f1"]) if f >= target), None)


def time_to_quality(
    course: dict[str, Any], fast: dict[str, Any], relaxed: float = 0.9
) -> dict[str, Any]:
    """The course run's time to its best validation F1, the fast run's time to reach it.

    Also, less sensitive to the course run's luckiest epoch: both runs' times to first reach
    ``relaxed`` (90 %) of that F1, and their ratio (``speedup_relaxed``).
    """
    target = course["best_val_f1"]
    course_epoch = course["best_epoch"]
    course_seconds = course["elapsed"][course_epoch - 1]
    first = first_reaching(fast, target)
    out: dict[str, Any] = {
        "seed": course["seed"],
        "target_val_f1": target,
        "course_epoch": course_epoch,
        "course_seconds": course_seconds,
        "fast_best_val_f1": fast["best_val_f1"],
        "reached": first is not None,
    }
    if first is not None:
        seconds = fast["elapsed"][first]
        out.update(
            fast_epoch=first + 1, fast_seconds=seconds, speedup=course_seconds / seconds
        )
    else:
        out.update(fast_epoch=None, fast_seconds=None, speedup=None)
    c, f = (
        first_reaching(course, relaxed * target),
        first_reaching(fast, relaxed * target),
    )
    out["relaxed_target_val_f1"] = relaxed * target
    out["speedup_relaxed"] = (
        course["elapsed"][c] / fast["elapsed"][f]
        if c is not None and f is not None
        else None
    )
    return out


# --------------------------------------------------------------------------------------------
# Report (pure functions of the JSON: the results page calls them too)
# --------------------------------------------------------------------------------------------


def median_speedup(payload: dict[str, Any]) -> float | None:
    """The median speed-up over the seeds whose fast run reached the target; None if none."""
    values = [
        r["speedup"] for r in payload["time_to_quality"] if r["speedup"] is not None
    ]
    return statistics.median(values) if values else None


def tables(payload: dict[str, Any]) -> list[common.Table]:
    """The result as tables: time to quality, throughput, arithmetic bound."""
    out: list[common.Table] = []
    ttq_rows = []
    for r in payload["time_to_quality"]:
        ttq_rows.append(
            [
                r["seed"],
                r["target_val_f1"],
                r["course_epoch"],
                common.fixed(r["course_seconds"]),
                r["fast_epoch"] if r["reached"] else "not reached",
                common.fixed(r["fast_seconds"]),
                r["fast_best_val_f1"],
                common.fixed(r["speedup"], 2),
                common.fixed(r.get("speedup_relaxed"), 2),
            ]
        )
    med = median_speedup(payload)
    relaxed = [
        r["speedup_relaxed"]
        for r in payload["time_to_quality"]
        if r.get("speedup_relaxed") is not None
    ]
    ttq_rows.append(
        [
            "median",
            None,
            None,
            None,
            None,
            None,
            None,
            common.fixed(med, 2),
            common.fixed(statistics.median(relaxed) if relaxed else None, 2),
        ]
    )
    fast_lr = payload["settings"].get("fast_learning_rate", "train's default")
    fast_name = (
        "train's default (fast loop)"
        if fast_lr == "train's default"
        else f"the fast loop with learning rate {fast_lr}"
    )
    out.append(
        (
            f"Time to quality: course recipe (fit on numpy, batch 32) to its best validation "
            f"bottle F1, {fast_name} to that same F1",
            [
                "seed",
                "course best val F1",
                "course epoch",
                "course s",
                "fast epoch",
                "fast s",
                "fast best val F1",
                "speed-up",
                "speed-up to 90 %",
            ],
            ttq_rows,
        )
    )

    flops = payload["flops"]
    peak = payload["matmul"]["tensorflow_gflops"] * 1e9
    tp_rows = []
    for key, label in (
        ("course", "course loop, batch 32"),
        ("fast", "fast loop (tf.data)"),
    ):
        for det_key, det_label in (
            ("nondeterministic", "determinism off"),
            ("deterministic", "determinism on"),
        ):
            run = payload["throughput"].get(det_key, {}).get(key)
            if not run:
                continue
            rate = run["images_per_second"] * flops["train_3x"]
            tp_rows.append(
                [
                    f"{label}, {det_label}",
                    run["batch_size"],
                    round(run["images_per_second"]),
                    common.fixed(run["steady_epoch_seconds"], 2),
                    common.fixed(rate / 1e9),
                    f"{100 * rate / peak:.0f} %" if peak else None,
                    common.fixed(run["cpu_cores_busy"], 2),
                ]
            )
    out.append(
        (
            "Training throughput (steady epochs; epoch time includes validation)",
            [
                "run",
                "batch",
                "images/s",
                "epoch s",
                "GFLOP/s (3x fwd)",
                "of matmul peak",
                "cores busy",
            ],
            tp_rows,
        )
    )

    mm = payload["matmul"]
    bound_rows = [
        ["course CNN forward, FLOPs/image", flops["forward"]],
        ["course CNN training, 3x forward", flops["train_3x"]],
        [
            "course CNN training, exact (no input gradient at layer 1)",
            flops["train_exact"],
        ],
        [
            f"TensorFlow matmul {mm['n']}x{mm['n']} float32, GFLOP/s (best of {mm['reps']})",
            common.fixed(mm["tensorflow_gflops"]),
        ],
        [
            f"numpy matmul, GFLOP/s ({(mm.get('numpy_blas') or {}).get('internal_api', '?')})",
            common.fixed(mm["numpy_gflops"]),
        ],
        [
            "images/s if training ran at the TF matmul rate",
            round(peak / flops["train_3x"]) if flops["train_3x"] else None,
        ],
    ]
    out.append(("Arithmetic bound", ["quantity", "value"], bound_rows))
    return out


def verdicts(payload: dict[str, Any]) -> list[str]:
    """Which targets are met, with the measured cause when not."""
    med = median_speedup(payload)
    ttq = payload["time_to_quality"]
    n_reached = sum(r["reached"] for r in ttq)
    det = payload["throughput"].get("deterministic", {})
    nondet = payload["throughput"].get("nondeterministic", {})
    lines = []
    if med is None:
        lines.append(
            f"Time to quality >= {TARGET_SPEEDUP:g}x: NOT MET - the fast loop never "
            f"reached the course recipe's best validation F1 within "
            f"{payload['settings']['epochs']} epochs (0 of {len(ttq)} seeds)."
        )
    else:
        met = med >= TARGET_SPEEDUP
        lines.append(
            f"Time to quality >= {TARGET_SPEEDUP:g}x: {'met' if met else 'NOT MET'} - "
            f"median speed-up {med:.2f}x over {n_reached} of {len(ttq)} seeds "
            f"reaching the target."
        )
    if det.get("course") and det.get("fast"):
        per_image = (
            det["fast"]["images_per_second"] / det["course"]["images_per_second"]
        )
        reached = [r for r in ttq if r["reached"]]
        epochs = (
            statistics.median(r["fast_epoch"] / r["course_epoch"] for r in reached)
            if reached
            else None
        )
        text = (
            f"Decomposition: the fast loop trains {per_image:.2f}x as many images per "
            f"second (steady state)"
        )
        if epochs is not None:
            text += (
                f", but needs {epochs:.2f}x the course recipe's epochs to the same "
                f"validation F1 (median; batch 128 makes 4x fewer weight updates per "
                f"epoch than batch 32)"
            )
        lines.append(text + ".")
    if det.get("fast") and nondet.get("fast"):
        rate = round(
            det["fast"]["images_per_second"] / nondet["fast"]["images_per_second"] - 1,
            2,
        )
        epoch = (
            round(
                det["fast"]["steady_epoch_seconds"]
                / nondet["fast"]["steady_epoch_seconds"]
                - 1,
                2,
            )
            + 0.0
        )  # + 0.0: no "-0%"
        lines.append(
            f"Op determinism (train's default, deterministic=True, used for the "
            f"time-to-quality runs) against determinism off, fast loop: throughput "
            f"{rate:+.0%}, median epoch time {epoch:+.0%} (measured one after the "
            f"other, so a change in the machine's load shows up here too)."
        )
    load = payload.get("load_average_start") or []
    cores = payload["machine"].get("cores") or 0
    if load and cores and load[0] > cores:
        lines.append(
            f"The machine was busy (load average {load[0]:.1f} on {cores} cores at "
            f"the start): times are longer than on an idle machine."
        )
    return lines


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = common.parser(NAME, __doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument(
        "--probe-epochs",
        type=int,
        default=6,
        help="epochs of the determinism-off throughput runs",
    )
    p.add_argument("--n", type=int, default=1500, help="synthetic images")
    p.add_argument(
        "--fast-learning-rate",
        type=float,
        default=None,
        help="Adam learning rate of the fast loop (default: train's default); the "
        "course recipe always uses 1e-3",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.probe_epochs, args.n = args.seeds[:1], 2, 2, 120
    common.use_repo_package()
    import tensorflow as tf  # noqa: F401  (so machine_info sees its version and GPUs)

    from wastelab.data import prepare
    from wastelab.models import build_cnn

    settings = {
        "seeds": args.seeds,
        "epochs": args.epochs,
        "probe_epochs": args.probe_epochs,
        "n": args.n,
        "quick": args.quick,
        "class_weight": "balanced",
        "course_learning_rate": COURSE_LEARNING_RATE,
        "fast_learning_rate": args.fast_learning_rate or "train's default",
        "data": "prepare('synthetic')",
        "target_speedup": TARGET_SPEEDUP,
    }
    payload = common.new_payload(NAME, settings)
    data = prepare("synthetic", n=args.n, verbose=0)
    payload["data"] = {
        "train": len(data.y_train),
        "val": len(data.y_val),
        "test": len(data.y_test),
        "image_shape": list(data.image_shape),
        "fingerprint": common.data_fingerprint(data),
    }
    print(f"data: {data!r}", flush=True)

    size, reps = (256, 2) if args.quick else (MATMUL_SIZE, 5)
    payload["matmul"] = matmul_rate(size, reps)
    payload["flops"] = model_flops(build_cnn(input_shape=data.image_shape))
    print(
        f"matmul: {payload['matmul']['tensorflow_gflops']:.1f} GFLOP/s (TensorFlow), "
        f"course CNN forward {payload['flops']['forward']:,} FLOPs/image",
        flush=True,
    )

    # Determinism off first: once a train() call enables op determinism it stays on.
    throughput: dict[str, dict[str, Any]] = {
        "nondeterministic": {},
        "deterministic": {},
    }
    for loop in ("course", "fast"):
        lr = COURSE_LEARNING_RATE if loop == "course" else args.fast_learning_rate
        run = timed_run(
            data,
            loop,
            args.probe_epochs,
            args.seeds[0],
            deterministic=False,
            learning_rate=lr,
        )
        throughput["nondeterministic"][loop] = run
        print(
            f"determinism off, {loop}: {run['images_per_second']:.0f} images/s",
            flush=True,
        )

    runs: list[dict[str, Any]] = []
    ttq: list[dict[str, Any]] = []
    for seed in args.seeds:
        course = timed_run(
            data, "course", args.epochs, seed, learning_rate=COURSE_LEARNING_RATE
        )
        fast = timed_run(
            data, "fast", args.epochs, seed, learning_rate=args.fast_learning_rate
        )
        runs += [course, fast]
        ttq.append(time_to_quality(course, fast))
        if seed == args.seeds[0]:
            throughput["deterministic"] = {"course": course, "fast": fast}
        r = ttq[-1]
        print(
            f"seed {seed}: course best val F1 {r['target_val_f1']:.3f} at epoch "
            f"{r['course_epoch']} ({r['course_seconds']:.1f} s); fast: "
            + (
                f"epoch {r['fast_epoch']} ({r['fast_seconds']:.1f} s), {r['speedup']:.2f}x"
                if r["reached"]
                else "not reached"
            ),
            flush=True,
        )
    payload["throughput"] = throughput
    payload["runs"] = runs
    payload["time_to_quality"] = ttq
    payload["median_speedup"] = median_speedup(payload)
    payload["target_met"] = (
        payload["median_speedup"] is not None
        and payload["median_speedup"] >= TARGET_SPEEDUP
    )
    common.finish_payload(payload)
    common.print_report(
        "Training speed: time to quality", payload, tables(payload), verdicts(payload)
    )
    path = common.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

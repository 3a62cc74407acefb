"""GPU check: the book's training code measured on a GPU (run by ``bench/gpu_check.sh``).

On the book's default data (synthetic scenes, 50x50x1, or ``$WASTELAB_DATA``) the course
CNN and the strong CNN of chapter 10 are trained with ``train``'s fast loop: on the CPU
(``devices="cpu"``), the reference, and on the first GPU in float32, with mixed
precision (``mixed_float16``) and with XLA (``jit_compile``). Throughput is ``train``'s
images per second over the steady epochs (the first, with tracing and compiling, is left
out); op determinism stays off, as it can cost speed on a GPU. Every GPU run is set
against the CPU run (speed-up) and against the GPU's **arithmetic bound**: the images per
second it would reach if every training FLOP (3x the forward FLOPs, counted from the
layers) ran at the GPU's measured matmul rate (float16 for mixed precision, float32
otherwise). The shell script also passes in how the tests marked ``gpu`` ended and how
long chapter 11 took to execute.

    .venv/bin/python bench/bench_gpu.py [--json PATH] [--epochs N] [--quick]

``--quick`` is the dry run for CI: no GPU needed, every run on the CPU, 2 epochs on 300
synthetic images; the result says it is a dry run.
"""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common  # noqa: E402  (after the TF log level)

NAME = "gpu"
MODELS = ("cnn", "strong-cnn")
PRECISIONS = {  # name -> train's options
    "float32": {},
    "mixed_float16": {"mixed_precision": True},
    "xla": {"xla": True},
}
LIMIT_S = 8 * 60  # the whole check, installation included


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


def matmul_tflops(device: str, dtype: str, n: int, reps: int = 10) -> float:
    """Matmul rate on ``device`` in TFLOP/s: a chain of ``reps`` products of n x n
    matrices in one compiled call (2 n**3 FLOPs each; chained, so none can be left
    out), best of three calls after a warm-up; only a scalar comes back to the host."""
    import tensorflow as tf

    with tf.device(device):
        scale = (3.0 / n) ** 0.5  # entries of variance 1/n: the chain keeps its size
        a = tf.random.uniform((n, n), -scale, scale, dtype=tf.float32, seed=1)
        b = tf.random.uniform((n, n), -1.0, 1.0, dtype=tf.float32, seed=2)
        a, b = tf.cast(a, dtype), tf.cast(b, dtype)

        @tf.function
        def products() -> Any:
            x = b
            for _ in range(reps):
                x = tf.linalg.matmul(a, x)
            return tf.reduce_sum(tf.cast(x[:1], tf.float32))

        products().numpy()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            products().numpy()
            best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 * reps / best / 1e12


def builder(name: str, shape: tuple[int, ...]) -> Any:
    from wastelab import models

    if name == "cnn":
        return lambda: models.build_cnn(shape)
    return lambda: models.build_strong_cnn(shape)


def train_flops(name: str, shape: tuple[int, ...]) -> int:
    """Training FLOPs per image of model ``name`` (3x forward, from its layers)."""
    import bench_speed

    return int(bench_speed.model_flops(builder(name, shape)())["train_3x"])


def timed_run(name: str, data: Any, where: str, precision: str, epochs: int) -> dict:
    """Train model ``name`` once; its throughput and wall time."""
    import keras

    from wastelab import training

    result = training.train(
        builder(name, data.image_shape),
        data,
        epochs=epochs,
        devices=where,
        deterministic=False,
        verbose=0,
        **PRECISIONS[precision],
    )
    row = {
        "model": name,
        "where": where,
        "precision": precision,
        "device": result.device,
        "epochs": result.epochs_run,
        "images_per_second": result.images_per_second,
        "wall_seconds": result.wall_time,
        "final_loss": result.history["loss"][-1],
    }
    del result
    keras.backend.clear_session()
    return row


def measure(data: Any, epochs: int, cpu_epochs: int, quick: bool) -> dict[str, Any]:
    """Every run, the arithmetic bound of each GPU run, the matmul rates."""
    from wastelab import devices

    gpu = "cpu" if quick else "gpu"  # the dry run puts the "GPU" runs on the CPU
    target = "/CPU:0" if quick else "/GPU:0"
    n = 512 if quick else 8192
    peak = {
        "float32": matmul_tflops(target, "float32", n),
        "float16": matmul_tflops(target, "float16", n),
    }
    runs, flops = [], {}
    for name in MODELS:
        flops[name] = train_flops(name, data.image_shape)
        cpu = timed_run(name, data, "cpu", "float32", cpu_epochs)
        runs.append({**cpu, "speedup_vs_cpu": 1.0})
        for precision in PRECISIONS:
            row = timed_run(name, data, gpu, precision, epochs)
            rate = peak["float16" if precision == "mixed_float16" else "float32"]
            bound = rate * 1e12 / flops[name]
            row |= {
                "speedup_vs_cpu": row["images_per_second"] / cpu["images_per_second"],
                "bound_images_per_second": bound,
                "fraction_of_bound": row["images_per_second"] / bound,
            }
            runs.append(row)
    return {
        "gpus": devices.gpu_names(),
        "matmul_size": n,
        "matmul_tflops": peak,
        "train_flops_per_image": flops,
        "runs": runs,
    }


# --------------------------------------------------------------------------------------
# Rendering (pure: the results page calls these without TensorFlow)
# --------------------------------------------------------------------------------------


def tables(payload: dict[str, Any]) -> list[common.Table]:
    """The runs (images/s, against the CPU and the arithmetic bound), the arithmetic."""
    rows = [
        [
            r["model"],
            r["device"],
            r["precision"],
            common.fixed(r["images_per_second"], 0),
            common.fixed(r["speedup_vs_cpu"], 2),
            common.fixed(r.get("bound_images_per_second"), 0),
            common.fixed(100 * r["fraction_of_bound"], 1)
            if "fraction_of_bound" in r
            else None,
        ]
        for r in payload["runs"]
    ]
    runs = (
        "Training throughput: fast loop, steady epochs"
        + (" (DRY RUN: every run on the CPU)" if payload["settings"]["quick"] else ""),
        ["model", "device", "precision", "images/s", "x CPU", "bound img/s", "% bound"],
        rows,
    )
    peak = payload["matmul_tflops"]
    arithmetic = [
        [f"matmul {n}x{n}, {dtype}", common.fixed(tflops, 1)]
        for dtype, tflops in peak.items()
        for n in [payload["matmul_size"]]
    ]
    arithmetic += [
        [f"training FLOPs per image, {name}", f"{count:,}"]
        for name, count in payload["train_flops_per_image"].items()
    ]
    return [runs, ("Arithmetic (TFLOP/s; FLOPs)", ["what", "value"], arithmetic)]


def verdicts(payload: dict[str, Any]) -> list[str]:
    """The GPU, the best speed-ups, the tests, chapter 11, the time limit."""
    lines = []
    if payload["settings"]["quick"]:
        lines.append("Dry run: no GPU was used; the figures only show the check works.")
    gpus = payload.get("gpus") or []
    lines.append(f"GPUs: {', '.join(gpus) if gpus else 'none'}.")
    for name in MODELS:
        gpu_runs = [
            r
            for r in payload["runs"]
            if r["model"] == name and "fraction_of_bound" in r  # not the CPU reference
        ]
        if gpu_runs:
            best = max(gpu_runs, key=lambda r: r["images_per_second"])
            lines.append(
                f"{name}: fastest {best['precision']}, "
                f"{best['images_per_second']:,.0f} images/s, "
                f"{best['speedup_vs_cpu']:.1f} x the CPU, "
                f"{100 * best['fraction_of_bound']:.1f} % of the arithmetic bound."
            )
    tests = payload.get("gpu_tests")
    if tests is not None:
        lines.append(f"Tests marked gpu: {tests}.")
    chapter = payload.get("chapter_11") or {}
    if chapter.get("status") == "skipped":
        lines.append("Chapter 11: not executed (dry run).")
    elif chapter:
        ok = "executed without errors" if chapter["status"] == 0 else "FAILED"
        lines.append(f"Chapter 11: {ok} in {chapter.get('seconds', 0):.0f} s.")
    total = payload.get("check_seconds")
    if total is not None:
        met = "met" if total < LIMIT_S else "NOT MET"
        lines.append(
            f"Whole check under {LIMIT_S // 60} min: {met} ({total:.0f} s, "
            "installation included)."
        )
    return lines


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = common.parser(NAME, __doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="epochs per GPU run")
    p.add_argument("--gpu-tests", default=None, help="how the gpu tests ended")
    p.add_argument("--chapter-status", default=None, help="chapter 11: exit status")
    p.add_argument("--chapter-seconds", type=float, default=None)
    p.add_argument(
        "--started", type=float, default=None, help="check's start (epoch s)"
    )
    args = p.parse_args(argv)
    common.use_repo_package()

    from wastelab.data import load_default, prepare

    quick = args.quick
    epochs = 2 if quick else args.epochs
    cpu_epochs = 2 if quick else 3
    settings = {"quick": quick, "epochs": epochs, "cpu_epochs": cpu_epochs}
    payload = common.new_payload(NAME, settings)
    if quick:
        data = prepare("synthetic", n=300, verbose=0)
    else:
        data = load_default(verbose=0)
    settings["data"] = repr(data)
    settings["train_images"] = len(data.y_train)
    import tensorflow as tf

    if not quick and not tf.config.list_physical_devices("GPU"):
        print("bench_gpu: TensorFlow sees no GPU here; use --quick for a dry run")
        return 1
    payload |= measure(data, epochs, cpu_epochs, quick)
    if args.gpu_tests is not None:
        payload["gpu_tests"] = args.gpu_tests
    if args.chapter_status is not None:
        status = args.chapter_status
        payload["chapter_11"] = {
            "status": int(status) if status.lstrip("-").isdigit() else status,
            "seconds": args.chapter_seconds,
        }
    common.finish_payload(payload)
    if args.started is not None:
        payload["check_seconds"] = time.time() - args.started
    common.print_report("GPU check", payload, tables(payload), verdicts(payload))
    path = common.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmarks stay runnable: each script runs with its tiny ``--quick`` settings and writes
the JSON the results page reads; the pure parts (FLOP count, time to quality, tables) are
checked on known inputs. The real measurements never run here."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import bench_book  # noqa: E402
import bench_quality  # noqa: E402
import bench_speed  # noqa: E402
import common  # noqa: E402

MACHINE_KEYS = {"date", "cpu", "cores", "gpus", "load_average", "python", "numpy",
                "tensorflow", "keras", "platform", "git_commit"}

TINY_CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# {title}

```{{code-cell}} ipython3
{code}
```
"""


def run_script(script, *args, tmp_path, bench_dir=BENCH, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT),
           "WASTELAB_CACHE": str(tmp_path / "cache")}  # pretrained bases land in tmp_path
    proc = subprocess.run([sys.executable, str(bench_dir / script), *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def read_result(path, benchmark):
    payload = json.loads(Path(path).read_text())
    assert payload["schema"] == common.SCHEMA
    assert payload["benchmark"] == benchmark
    assert MACHINE_KEYS <= set(payload["machine"])
    assert payload["machine"]["cores"] >= 1
    assert len(payload["load_average_start"]) == 3
    assert payload["settings"]["quick"] is True
    return payload


def write_chapter(path, title, code):
    path.write_text(TINY_CHAPTER.format(title=title, code=code))
    return path


# --------------------------------------------------------------------------------------------
# Pure parts
# --------------------------------------------------------------------------------------------


def test_course_cnn_flops_counted_from_its_layers():
    from wastelab.models import build_cnn

    flops = bench_speed.model_flops(build_cnn())
    # 50x50 same conv, 23x23 and 9x9 valid convs (3x3, 16 filters), dense 1,296 -> 2
    expected = [2 * 9 * 1 * 16 * 50 * 50, 2 * 9 * 16 * 16 * 23 * 23, 2 * 9 * 16 * 16 * 9 * 9,
                2 * 1296 * 2]
    assert [r["flops"] for r in flops["layers"]] == expected
    assert flops["forward"] == sum(expected) == 3_536_064
    assert flops["train_3x"] == 3 * sum(expected)
    assert flops["train_exact"] == 3 * sum(expected) - expected[0]


def test_time_to_quality_compares_the_fast_run_with_the_course_runs_best():
    course = {"seed": 0, "val_f1": [0.2, 0.5, 0.4], "elapsed": [1.0, 2.0, 3.0],
              "best_val_f1": 0.5, "best_epoch": 2}
    fast = {"val_f1": [0.3, 0.5, 0.6], "elapsed": [0.5, 1.0, 1.5], "best_val_f1": 0.6}
    r = bench_speed.time_to_quality(course, fast)
    assert (r["reached"], r["fast_epoch"], r["fast_seconds"], r["speedup"]) == (True, 2, 1.0, 2.0)
    slow = {"val_f1": [0.3, 0.4, 0.45], "elapsed": [0.5, 1.0, 1.5], "best_val_f1": 0.45}
    r = bench_speed.time_to_quality(course, slow)
    assert not r["reached"] and r["speedup"] is None


def test_tables_align_and_render_as_markdown():
    rows = [["course CNN", 0.12345, 1200, None], ["a|b", 1.0, 3, True]]
    text = common.text_table(["recipe", "F1", "n", "ok"], rows)
    lines = text.splitlines()
    assert len({len(line) for line in lines[:3]}) == 1  # header, rule, widest row align
    assert lines[2].split() == ["course", "CNN", "0.123", "1,200", "-"]
    assert lines[3].split() == ["a|b", "1.000", "3", "yes"]
    md = common.markdown_table(["recipe", "F1", "n", "ok"], rows)
    assert md.splitlines()[1] == "| :-- | --: | --: | --: |"
    assert "a\\|b" in md and "| yes |" in md


def test_quality_verdict_picks_the_best_recipe_on_validation_not_on_test():
    def row(name, shape, val_f1, test_f1):
        scores = {"precision": 0.5, "recall": 0.5, "balanced_accuracy": 0.5, "accuracy": 0.5}
        return {"recipe": name, "image_shape": shape, "val": {**scores, "f1": val_f1},
                "test": {**scores, "f1": test_f1}, "train": {**scores, "f1": 0.99}}

    payload = {"recipes": [row("a", [50, 50, 1], 0.80, 0.90), row("b", [50, 50, 1], 0.85, 0.70),
                           row("rgb", [64, 64, 3], 0.95, 0.95)],
               "data": {"bottles_test": 20}}
    assert bench_quality.best_at_50(payload)["recipe"] == "b"
    first, second, third, _ = bench_quality.verdicts(payload)
    assert "NOT MET" in first and "'b'" in first and "gap 0.150" in first
    assert "overfits" in second  # train F1 0.99 against test F1 0.70
    assert "'rgb'" in third


# --------------------------------------------------------------------------------------------
# Smoke runs of the scripts
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_speed_benchmark_quick(tmp_path):
    out = tmp_path / "speed.json"
    stdout = run_script("bench_speed.py", "--quick", "--json", out, tmp_path=tmp_path)
    assert "Time to quality" in stdout and "Arithmetic bound" in stdout
    payload = read_result(out, "speed")
    assert payload["machine"]["tensorflow"]
    assert payload["flops"]["forward"] == 3_536_064
    assert payload["matmul"]["tensorflow_gflops"] > 0 and payload["matmul"]["numpy_gflops"] > 0
    for setting in ("nondeterministic", "deterministic"):
        for loop, batch in (("course", 32), ("fast", 128)):
            run = payload["throughput"][setting][loop]
            assert run["batch_size"] == batch and run["images_per_second"] > 0
            assert run["deterministic"] == (setting == "deterministic")
    for run in payload["runs"]:
        assert len(run["elapsed"]) == len(run["val_f1"]) == run["epochs"] == 2
        assert run["elapsed"] == sorted(run["elapsed"])
    (ttq,) = payload["time_to_quality"]
    assert {"target_val_f1", "course_seconds", "fast_seconds", "speedup", "reached"} <= set(ttq)
    assert isinstance(payload["target_met"], bool)
    assert len(payload["data"]["fingerprint"]) == 16


@pytest.fixture()
def tiny_photos(tmp_path):
    """A small stand-in for trashnet_bottles.npz: the same arrays, random pixels."""
    rng = np.random.default_rng(0)
    n = 60
    y = (np.arange(n) % 3 == 0).astype(np.int64)
    path = tmp_path / "photos.npz"
    np.savez(path, x=rng.integers(0, 256, (n, 50, 50), dtype=np.uint8),
             rgb=rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8), y=y)
    return path


@pytest.mark.slow
def test_quality_benchmark_quick_on_photos(tmp_path, tiny_photos):
    out = tmp_path / "quality.json"
    stdout = run_script("bench_quality.py", "--quick", "--data", tiny_photos, "--json", out,
                        "--recipes", "MLP", "RGB", "transfer", tmp_path=tmp_path)
    assert "reported by the course" in stdout
    payload = read_result(out, "quality")
    names = [r["recipe"] for r in payload["recipes"]]
    assert names == ["course MLP", "strong CNN + augmentation, RGB 64x64",
                     "transfer: frozen base, then fine-tuned"]
    for r in payload["recipes"]:
        assert set(bench_quality.SCORE_KEYS) <= set(r["test"])
        assert 0.0 <= r["threshold"] <= 1.0 and r["train_seconds"] > 0
    shapes = {r["recipe"]: r["image_shape"] for r in payload["recipes"]}
    assert shapes["course MLP"] == [50, 50, 1]
    assert shapes["strong CNN + augmentation, RGB 64x64"] == [64, 64, 3]
    assert len(payload["recipes"][-1]["stages"]) == 2  # frozen, then fine-tuned
    assert payload["transfer_base"]["source"] in ("imagenet", "wastelab-synthetic")
    assert payload["data"]["test"] == 6 and payload["data"]["source"].endswith("photos.npz")
    assert payload["best_at_50"] in names


def test_quality_benchmark_skips_without_data(tmp_path):
    out = tmp_path / "quality.json"
    stdout = run_script("bench_quality.py", "--data", tmp_path / "absent.npz", "--json", out,
                        tmp_path=tmp_path)
    assert "SKIPPED" in stdout and "absent.npz" in stdout
    assert not out.exists()


@pytest.mark.slow
def test_book_benchmark_times_each_chapter(tmp_path):
    ok = write_chapter(tmp_path / "ok.md", "Fine", "print(6 * 7)")
    broken = write_chapter(tmp_path / "broken.md", "Broken", "raise ValueError('on purpose')")
    out = tmp_path / "book.json"
    stdout = run_script("bench_book.py", "--quick", "--chapters", ok, broken, "--json", out,
                        tmp_path=tmp_path)
    assert "ok.md" in stdout
    payload = read_result(out, "book")
    first, second = payload["chapters"]
    assert first["seconds"] > 0 and first["code_cells"] == 1 and not first["unexpected_errors"]
    assert second["unexpected_errors"][0]["ename"] == "ValueError"
    assert payload["execution_seconds"] == pytest.approx(first["seconds"] + second["seconds"])
    assert "full_build" not in payload
    assert any("unexpected cell errors" in v for v in bench_book.verdicts(payload))


@pytest.mark.slow
def test_results_page_renders_measured_and_missing_results(tmp_path):
    """The page builds with one result present and the others missing."""
    from wastelab.notebooks import execute, read_notebook

    bench = tmp_path / "bench"
    bench.mkdir()
    for name in ("common.py", "bench_speed.py", "bench_quality.py", "bench_book.py"):
        shutil.copy(BENCH / name, bench / name)
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "results.md"
    shutil.copy(ROOT / "book" / "results.md", page)
    chapter = write_chapter(tmp_path / "tiny.md", "Tiny", "print('hello')")
    run_script("bench_book.py", "--quick", "--chapters", chapter, tmp_path=tmp_path,
               bench_dir=bench)  # default JSON path: the copy's bench/results/book.json
    assert (bench / "results" / "book.json").is_file()

    run = execute(read_notebook(page), cwd=page.parent)
    assert not run.unexpected_errors, run.unexpected_errors
    shown = "\n".join(out.get("data", {}).get("text/markdown", "")
                      for cell in run.notebook.cells for out in cell.get("outputs", []))
    assert "tiny.md" in shown and "| chapter | seconds |" in shown
    assert "smoke-test settings" in shown
    assert shown.count("Not measured yet") == 3  # speed, quality, quality on synthetic

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

MACHINE_KEYS = {
    "date",
    "cpu",
    "cores",
    "gpus",
    "load_average",
    "python",
    "numpy",
    "tensorflow",
    "keras",
    "platform",
    "git_commit",
}

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
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
        "WASTELAB_CACHE": str(tmp_path / "cache"),
    }  # pretrained bases land in tmp_path
    proc = subprocess.run(
        [sys.executable, str(bench_dir / script), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
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
    expected = [
        2 * 9 * 1 * 16 * 50 * 50,
        2 * 9 * 16 * 16 * 23 * 23,
        2 * 9 * 16 * 16 * 9 * 9,
        2 * 1296 * 2,
    ]
    assert [r["flops"] for r in flops["layers"]] == expected
    assert flops["forward"] == sum(expected) == 3_536_064
    assert flops["train_3x"] == 3 * sum(expected)
    assert flops["train_exact"] == 3 * sum(expected) - expected[0]


def test_time_to_quality_compares_the_fast_run_with_the_course_runs_best():
    course = {
        "seed": 0,
        "val_f1": [0.2, 0.5, 0.4],
        "elapsed": [1.0, 2.0, 3.0],
        "best_val_f1": 0.5,
        "best_epoch": 2,
    }
    fast = {"val_f1": [0.3, 0.5, 0.6], "elapsed": [0.5, 1.0, 1.5], "best_val_f1": 0.6}
    r = bench_speed.time_to_quality(course, fast)
    assert (r["reached"], r["fast_epoch"], r["fast_seconds"], r["speedup"]) == (
        True,
        2,
        1.0,
        2.0,
    )
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


def quality_row(name, f1, spread, vs_previous=None, vs_course=None, kept=True):
    return {
        "name": name,
        "change": "x",
        "mean_f1": f1,
        "low": f1 - 0.05,
        "high": f1 + 0.05,
        "spread": spread,
        "pr_auc": 0.7,
        "precision": 0.6,
        "recall": 0.6,
        "threshold": 0.4,
        "runs": 1,
        "epochs_per_model": 20.0,
        "seconds_per_model": 10.0,
        "vs_previous": vs_previous,
        "vs_course": vs_course,
        "kept": kept,
    }


def paired(against, mean, low, high):
    return {
        "against": against,
        "mean": mean,
        "low": low,
        "high": high,
        "bootstrap": {"mean": mean, "low": low, "high": high, "p_a_not_better": 0.0},
    }


def test_quality_tables_and_verdicts_render_the_ablation():
    payload = {
        "settings": {"folds": 5, "target_f1": 0.8, "stretch_f1": 0.85},
        "data": {"n": 1605, "bottles": 366, "source": "/x/trashnet_bottles.npz"},
        "steps": [
            quality_row("course CNN", 0.55, 0.04),
            quality_row(
                "+ class weights",
                0.53,
                0.05,
                paired("course CNN", -0.02, -0.05, 0.01),
                paired("course CNN", -0.02, -0.05, 0.01),
                kept=False,
            ),
            quality_row(
                "+ augmentation",
                0.81,
                0.03,
                paired("+ class weights", 0.28, 0.2, 0.35),
                paired("course CNN", 0.26, 0.2, 0.33),
            ),
        ],
        "best": "+ augmentation",
        "target_met": True,
        "stretch_met": False,
        "beats_course_beyond_spread": True,
        "spread_between_runs": 0.04,
        "transfer_base": {"source": "wastelab-synthetic"},
    }
    (title, columns, rows), _ = bench_quality.tables(payload)
    assert "5-fold" in title and "1605 photos" in title
    assert columns[:3] == ["step", "F1", "90 % interval"]
    assert rows[0][-1] == "-" and rows[1][-1] == "no" and rows[2][-1] == "yes"
    assert rows[2][7] == "+0.280 [+0.200, +0.350]"
    first, second, third, *rest = bench_quality.verdicts(payload)
    assert first.startswith("Mean out-of-fold bottle F1 >= 0.8: met")
    assert "'+ augmentation'" in first and "not met" in first  # the stretch
    assert "larger than that spread" in second and "NOT" not in second
    assert "'+ class weights' did not help" in third
    assert any("wastelab-synthetic" in line for line in rest)
    md = common.markdown_table(columns, rows)
    assert "| + augmentation | 0.810 |" in md


def test_quality_renders_results_of_the_older_protocol():
    scores = {"precision": 0.5, "recall": 0.4, "f1": 0.45}
    old = {
        "recipes": [
            {
                "recipe": "course CNN",
                "test": scores,
                "val": scores,
                "train_seconds": 3.0,
            }
        ]
    }
    ((title, _, rows),) = bench_quality.tables(old)
    assert "Older protocol" in title and rows[0][0] == "course CNN"
    assert "older one-split protocol" in bench_quality.verdicts(old)[0]


def test_quality_verdict_fields_need_a_gain_beyond_the_spread():
    course = quality_row("course CNN", 0.55, 0.04)
    gain = paired("course CNN", 0.05, 0.01, 0.09)
    best = quality_row("+ augmentation", 0.60, 0.08, vs_course=gain)
    payload = {"steps": [course, best]}
    bench_quality.verdict_fields(payload)
    assert payload["best"] == "+ augmentation" and not payload["target_met"]
    assert payload["spread_between_runs"] == 0.08
    assert payload["beats_course_beyond_spread"] is False  # gain 0.05 < spread 0.08
    best["vs_course"] = paired("course CNN", 0.05, 0.01, 0.09)
    best["spread"] = 0.03
    bench_quality.verdict_fields(payload)
    assert payload["beats_course_beyond_spread"] is True


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
    assert (
        payload["matmul"]["tensorflow_gflops"] > 0
        and payload["matmul"]["numpy_gflops"] > 0
    )
    for setting in ("nondeterministic", "deterministic"):
        for loop, batch in (("course", 32), ("fast", 128)):
            run = payload["throughput"][setting][loop]
            assert run["batch_size"] == batch and run["images_per_second"] > 0
            assert run["deterministic"] == (setting == "deterministic")
    for run in payload["runs"]:
        assert len(run["elapsed"]) == len(run["val_f1"]) == run["epochs"] == 2
        assert run["elapsed"] == sorted(run["elapsed"])
    (ttq,) = payload["time_to_quality"]
    assert {
        "target_val_f1",
        "course_seconds",
        "fast_seconds",
        "speedup",
        "reached",
    } <= set(ttq)
    assert isinstance(payload["target_met"], bool)
    assert len(payload["data"]["fingerprint"]) == 16


def test_quality_stores_and_reuses_out_of_fold_predictions(tmp_path):
    step = bench_quality.steps()[0]
    other = bench_quality.Step(**{**bench_quality.asdict(step), "epochs": 3})
    runs = {
        "proba": np.array([[0.1, 0.9]]),
        "flip": np.array([[0.2, 0.8]]),
        "seconds": [1.5, 2.0],
        "epochs": [30, 30],
    }
    path = tmp_path / "oof.npz"
    key = {"data": "abc", "seed": 0, "folds": 5}
    bench_quality.save_runs(path, key, {bench_quality.json_text(step): runs})
    back = bench_quality.load_runs(path, key)
    assert list(back) == [bench_quality.json_text(step)]
    assert bench_quality.json_text(other) not in back  # other settings: trained anew
    (stored,) = back.values()
    assert np.array_equal(stored["proba"], runs["proba"])
    assert stored["seconds"].tolist() == [1.5, 2.0]
    assert bench_quality.load_runs(path, {**key, "seed": 1}) == {}  # other folds
    assert bench_quality.load_runs(tmp_path / "absent.npz", key) == {}


@pytest.fixture()
def tiny_photos(tmp_path):
    """A small stand-in for trashnet_bottles.npz: the same arrays, random pixels."""
    rng = np.random.default_rng(0)
    n = 60
    y = (np.arange(n) % 3 == 0).astype(np.int64)
    path = tmp_path / "photos.npz"
    np.savez(
        path,
        x=rng.integers(0, 256, (n, 50, 50), dtype=np.uint8),
        rgb=rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8),
        rgb128=rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8),
        y=y,
    )
    return path


@pytest.mark.slow
def test_quality_benchmark_quick_on_photos(tmp_path, tiny_photos):
    out = tmp_path / "quality.json"
    stdout = run_script(
        "bench_quality.py",
        "--quick",
        "--data",
        tiny_photos,
        "--json",
        out,
        "--steps",
        "ensemble",
        "transfer",
        tmp_path=tmp_path,
    )
    assert "Out-of-fold bottle F1" in stdout and "measured on:" in stdout
    payload = read_result(out, "quality")
    names = [r["name"] for r in payload["steps"]]
    # the course CNN always; the ensemble's members; transfer's comparison step
    assert names == [
        "course CNN",
        "+ augmentation",
        "+ resolution 96x96",
        "+ longer schedule",
        "+ ensemble",
        "transfer",
    ]
    assert payload["complete"] is True
    assert payload["data"]["n"] == 60 and payload["data"]["bottles"] == 20
    assert payload["data"]["shapes"]["rgb96"] == [96, 96, 3]
    assert payload["data"]["rgb96_from"] == "rgb128"
    assert [f["test"] for f in payload["data"]["folds"]] == [30, 30]
    for r in payload["steps"]:
        assert r["low"] <= r["mean_f1"] <= r["high"]
        assert 0.0 <= r["pr_auc"] <= 1.0 and 0.0 <= r["threshold"] <= 1.0
        assert len(r["f1_per_fold"][0]) == 2
    course, *rest = payload["steps"]
    assert course["vs_previous"] is None and course["vs_course"] is None
    for r in rest:
        for key in ("vs_previous", "vs_course"):
            d = r[key]
            assert d["low"] <= d["mean"] <= d["high"]
            assert set(d["bootstrap"]) == {"mean", "low", "high", "p_a_not_better"}
    by_name = {r["name"]: r for r in payload["steps"]}
    assert by_name["transfer"]["vs_previous"]["against"] == "+ augmentation"
    assert by_name["+ ensemble"]["train_seconds"] == 0.0  # trains nothing
    assert payload["transfer_base"]["source"] in ("imagenet", "wastelab-synthetic")
    assert payload["best"] in names
    assert isinstance(payload["target_met"], bool)


def test_quality_benchmark_skips_without_data(tmp_path):
    out = tmp_path / "quality.json"
    stdout = run_script(
        "bench_quality.py",
        "--data",
        tmp_path / "absent.npz",
        "--json",
        out,
        tmp_path=tmp_path,
    )
    assert "SKIPPED" in stdout and "absent.npz" in stdout
    assert not out.exists()


@pytest.mark.slow
def test_book_benchmark_times_each_chapter(tmp_path):
    ok = write_chapter(tmp_path / "ok.md", "Fine", "print(6 * 7)")
    broken = write_chapter(
        tmp_path / "broken.md", "Broken", "raise ValueError('on purpose')"
    )
    out = tmp_path / "book.json"
    stdout = run_script(
        "bench_book.py",
        "--quick",
        "--chapters",
        ok,
        broken,
        "--json",
        out,
        tmp_path=tmp_path,
    )
    assert "ok.md" in stdout
    payload = read_result(out, "book")
    first, second = payload["chapters"]
    assert (
        first["seconds"] > 0
        and first["code_cells"] == 1
        and not first["unexpected_errors"]
    )
    assert second["unexpected_errors"][0]["ename"] == "ValueError"
    assert payload["execution_seconds"] == pytest.approx(
        first["seconds"] + second["seconds"]
    )
    assert "full_build" not in payload
    assert any("unexpected cell errors" in v for v in bench_book.verdicts(payload))
    # peak memory of the kernel process (and its children): a Python kernel is 30-500 MiB
    assert 30 < first["peak_rss_mib"] < 500 and first["over_memory"] is False
    assert any("peak memory: met" in v for v in bench_book.verdicts(payload))


def test_book_report_flags_chapters_over_time_or_memory():
    def chapter(name, seconds, mib):
        return {
            "chapter": name,
            "seconds": seconds,
            "code_cells": 1,
            "unexpected_errors": [],
            "over_limit": seconds > 60,
            "peak_rss_mib": mib,
            "over_memory": mib is not None and mib > 1024,
        }

    payload = {
        "settings": {"chapter_limit_s": 60.0, "memory_limit_mib": 1024.0},
        "chapters": [chapter("a.md", 10, 900), chapter("b.md", 70, 1600)],
        "execution_seconds": 80,
    }
    ((title, columns, rows),) = bench_book.tables(payload)
    assert columns[:3] == ["chapter", "seconds", "peak MiB"]
    assert rows[0][2] == "900" and rows[1][-1] == "over 60 s, over 1,024 MiB"
    found = "\n".join(bench_book.verdicts(payload))
    assert "Chapters over 60 s: b.md (70 s)" in found
    assert "Chapters over 1,024 MiB peak memory: b.md (1,600 MiB)" in found
    old = {
        "chapters": [chapter("a.md", 100, None)],
        "execution_seconds": 100,
        "settings": {"chapter_limit_s": 120.0},
    }  # measured before memory sampling
    assert "Peak memory per chapter: not measured" in "\n".join(
        bench_book.verdicts(old)
    )


@pytest.mark.slow
def test_results_page_renders_measured_and_missing_results(tmp_path):
    """The page builds with one result present and the others missing."""
    from tools.notebooks import execute, read_notebook

    bench = tmp_path / "bench"
    bench.mkdir()
    for name in ("common.py", "bench_speed.py", "bench_quality.py", "bench_book.py"):
        shutil.copy(BENCH / name, bench / name)
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "results.md"
    shutil.copy(ROOT / "book" / "results.md", page)
    chapter = write_chapter(tmp_path / "tiny.md", "Tiny", "print('hello')")
    run_script(
        "bench_book.py",
        "--quick",
        "--chapters",
        chapter,
        tmp_path=tmp_path,
        bench_dir=bench,
    )  # default JSON path: the copy's bench/results/book.json
    assert (bench / "results" / "book.json").is_file()

    run = execute(read_notebook(page), cwd=page.parent)
    assert not run.unexpected_errors, run.unexpected_errors
    shown = "\n".join(
        out.get("data", {}).get("text/markdown", "")
        for cell in run.notebook.cells
        for out in cell.get("outputs", [])
    )
    assert "tiny.md" in shown and "| chapter | seconds |" in shown
    assert "smoke-test settings" in shown
    assert shown.count("Not measured yet") == 3  # speed, quality, quality on synthetic

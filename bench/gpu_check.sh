#!/bin/bash
# The GPU check: the book's GPU paths on a machine with NVIDIA GPUs, in under 8 minutes.
#
#   bench/gpu_check.sh                 # on a GPU machine; elsewhere it says so, exit 0
#   bench/gpu_check.sh --dry-run       # no GPU, no installation: the plumbing, for CI
#   bench/gpu_check.sh --json PATH     # where the result goes (bench/results/gpu.json)
#
# 1. installs the `gpu` extra (TensorFlow with CUDA and cuDNN as pip wheels);
# 2. runs the tests marked `gpu` (they skip without a GPU);
# 3. executes chapter 11, whose GPU cells then train on the GPU;
# 4. bench/bench_gpu.py trains the course CNN and the strong CNN with the fast loop on
#    the CPU and on the GPU in float32, mixed precision and XLA, sets images/s against
#    the CPU and against the GPU's arithmetic bound, and writes the JSON result, which
#    the book's results page shows.
# Exit status: 0 when every step passed (or there is no GPU), 1 otherwise.

set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
JSON="bench/results/gpu.json"
DRY=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --json) JSON="$2"; shift ;;
        *) echo "usage: bench/gpu_check.sh [--dry-run] [--json PATH]" >&2; exit 2 ;;
    esac
    shift
done
START=$(date +%s)

if [[ $DRY == 0 ]] && ! nvidia-smi -L 2> /dev/null | grep -q '^GPU '; then
    echo "gpu_check: no NVIDIA GPU here (nvidia-smi lists none): nothing to check"
    exit 0
fi

export TF_CPP_MIN_LOG_LEVEL=2
export TF_FORCE_GPU_ALLOW_GROWTH=true   # the steps share the GPU's memory
failed=0

if [[ $DRY == 1 ]]; then
    echo "== dry run: no GPU, no installation; every training run on the CPU"
    TESTS=(tests/test_gpu.py)
    QUICK=(--quick)
else
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    echo "== 1. installing the gpu extra"
    if ! timeout 120 "$PYTHON" -m pip install --quiet -e ".[gpu]"; then
        echo "   installation failed or timed out: going on with what is installed"
    fi
    TESTS=(tests)
    QUICK=()
fi

echo "== 2. tests marked gpu"
timeout 75 "$PYTHON" -m pytest -q -m gpu "${TESTS[@]}"
tests=$?
tests_result="passed"
if [[ $tests != 0 ]]; then
    tests_result="FAILED (pytest exit status $tests)"
    failed=1
fi

if [[ $DRY == 1 ]]; then
    echo "== 3. chapter 11: skipped in a dry run"
    chapter=(--chapter-status skipped)
else
    echo "== 3. executing chapter 11"
    chapter_start=$(date +%s)
    timeout 90 "$PYTHON" -m tools.notebooks check book/11_scaling.md
    status=$?
    seconds=$(( $(date +%s) - chapter_start ))
    chapter=(--chapter-status "$status" --chapter-seconds "$seconds")
    [[ $status == 0 ]] || failed=1
fi

echo "== 4. training speed on CPU and GPU"
if ! timeout 150 "$PYTHON" bench/bench_gpu.py --json "$JSON" "${QUICK[@]}" \
        --gpu-tests "$tests_result" "${chapter[@]}" --started "$START"; then
    failed=1
fi

echo "== gpu_check: $(( $(date +%s) - START )) s, $([[ $failed == 0 ]] && echo passed \
    || echo 'FAILED (see above)'); result in $JSON"
exit $failed

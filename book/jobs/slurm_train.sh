#!/bin/bash
# Train the course CNN on one GPU as a Slurm batch job:  sbatch book/jobs/slurm_train.sh
# Resubmitting after a time limit or preemption resumes from the last completed epoch
# (train keeps a backup in $OUT/backup). Adapt the names marked "your cluster".
#SBATCH --job-name=wastelab-cnn
#SBATCH --gres=gpu:1                # one GPU (some clusters write --gpus=1)
#SBATCH --cpus-per-task=8           # CPU cores for the input pipeline and TensorFlow
#SBATCH --mem=32G                   # host memory for the job
#SBATCH --time=04:00:00             # wall-clock limit, HH:MM:SS
#SBATCH --output=%x-%j.out          # %x job name, %j job id; stdout and stderr together
#SBATCH --open-mode=append          # a requeued job adds to its log, not overwrites it
#SBATCH --requeue                   # the job may be put back in the queue (preemption)
#SBATCH --signal=B:USR1@300         # USR1 to this script 5 minutes before the limit
##SBATCH --partition=gpu            # your cluster: partition (remove one '#' to use)
##SBATCH --account=my-project       # your cluster: project to charge

# Several GPUs on one node (tf.distribute.MirroredStrategy): ask for them, give the
# input pipeline more cores, and train with --devices multi-gpu, e.g.
#   #SBATCH --gres=gpu:4
#   #SBATCH --cpus-per-task=32
#   wastelab train --model cnn --data data/taco.npz --epochs 30 \
#       --devices multi-gpu --out runs/cnn-4gpu

set -euo pipefail

# Your cluster: load its modules and your virtual environment (with wastelab installed).
# module load python/3.11 cuda/12.3
# source "$HOME/venvs/wastelab/bin/activate"

DATA="${DATA:-data/taco.npz}"          # a file made by `wastelab data prepare`
OUT="${OUT:-runs/cnn}"                 # keep it on resubmission: that is how it resumes
export TF_CPP_MIN_LOG_LEVEL=2          # fewer TensorFlow start-up messages in the log

echo "job ${SLURM_JOB_ID:-?} on ${HOSTNAME:-?}," \
    "restart ${SLURM_RESTART_COUNT:-0}, $(date)"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi

if [[ -f "$OUT/model.keras" ]]; then   # finished earlier: do not start from scratch
    echo "$OUT/model.keras exists: training is done (choose another OUT to train again)"
    exit 0
fi

# The time limit is near: put this job back in the queue. It starts again from the top
# and train resumes after the last completed epoch; the epoch in progress is lost.
requeue() {
    echo "time limit near, requeueing job ${SLURM_JOB_ID} at $(date)"
    scontrol requeue "${SLURM_JOB_ID}"
    exit 0
}
trap requeue USR1

# In the background, with `wait`, so that bash can run the trap while training runs.
wastelab train --model cnn --data "$DATA" --epochs 30 --out "$OUT" &
wait $!

wastelab evaluate "$OUT/best.keras" --data "$DATA" --split test \
    --json "$OUT/test_scores.json"

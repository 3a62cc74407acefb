#!/bin/bash
# Train the course CNN on several GPU nodes as one Slurm job:
#   sbatch book/jobs/slurm_multinode.sh
# One process per node (srun starts them); tf.distribute.MultiWorkerMirroredStrategy
# keeps a model copy on every GPU of every node and adds up their gradients. Each
# process finds its place in the cluster from Slurm's variables; worker 0, on the first
# node, is the chief and alone writes $OUT. Resubmitting, or the requeue before the
# time limit, resumes from the last completed epoch. Adapt the names marked "your
# cluster".
#SBATCH --job-name=wastelab-cnn-nodes
#SBATCH --nodes=2                   # nodes, one worker process on each
#SBATCH --ntasks-per-node=1         # one task per node, driving all the node's GPUs
#SBATCH --gres=gpu:4                # GPUs per node (or --gpus-per-node=4)
#SBATCH --cpus-per-task=32          # CPU cores per node, for the input pipeline
#SBATCH --mem=128G                  # host memory per node
#SBATCH --time=04:00:00             # wall-clock limit, HH:MM:SS
#SBATCH --output=%x-%j.out          # %x job name, %j job id; stdout and stderr together
#SBATCH --open-mode=append          # a requeued job adds to its log, not overwrites it
#SBATCH --requeue                   # the job may be put back in the queue (preemption)
#SBATCH --signal=B:USR1@300         # USR1 to this script 5 minutes before the limit
##SBATCH --partition=gpu            # your cluster: partition (remove one '#' to use)
##SBATCH --account=my-project       # your cluster: project to charge

set -euo pipefail

# Your cluster: load its modules and your virtual environment (with wastelab installed).
# module load python/3.11 cuda/12.3
# source "$HOME/venvs/wastelab/bin/activate"

DATA="${DATA:-data/taco.npz}"          # on a file system every node reads
OUT="${OUT:-runs/cnn-nodes}"           # shared too: all resume from the chief's backup
export TF_CPP_MIN_LOG_LEVEL=2          # fewer TensorFlow start-up messages in the log

echo "job ${SLURM_JOB_ID:-?}: ${SLURM_JOB_NUM_NODES:-?} nodes" \
    "(${SLURM_JOB_NODELIST:-?}), restart ${SLURM_RESTART_COUNT:-0}, $(date)"

if [[ -f "$OUT/model.keras" ]]; then   # finished earlier: do not start from scratch
    echo "$OUT/model.keras exists: training is done (choose another OUT to train again)"
    exit 0
fi

# The time limit is near: put this job back in the queue (it ends the training step on
# every node). It starts again from the top and resumes after the last completed epoch.
requeue() {
    echo "time limit near, requeueing job ${SLURM_JOB_ID} at $(date)"
    scontrol requeue "${SLURM_JOB_ID}"
    exit 0
}
trap requeue USR1

# srun runs the command once on every node, each task with the GPUs the job holds there.
# Since Slurm 22.05 srun does not inherit --cpus-per-task from sbatch: pass it on.
# --kill-on-bad-exit: if one worker fails, end the others (they would wait for it).
# --batch-size and --learning-rate (defaults: 256 per GPU, 0.001) are one node's; train
# multiplies the learning rate by the number of nodes, as the batch grows with them.
srun --ntasks-per-node=1 --cpus-per-task="${SLURM_CPUS_PER_TASK}" --kill-on-bad-exit=1 \
    wastelab train --model cnn --data "$DATA" --epochs 30 --devices multi-worker \
    --out "$OUT" &
wait $!

wastelab evaluate "$OUT/best.keras" --data "$DATA" --split test \
    --json "$OUT/test_scores.json"

#!/bin/bash
# Train the course CNN on one GPU as a PBS Professional batch job:
#   qsub book/jobs/pbs_train.sh
# Resubmitting after the walltime ran out resumes from the last completed epoch
# (train keeps a backup in $OUT/backup). Adapt the names marked "your cluster".
#PBS -N wastelab-cnn
#PBS -l select=1:ncpus=8:ngpus=1:mem=32gb
#PBS -l walltime=04:00:00
#PBS -j oe
#PBS -o wastelab-cnn.log
#PBS -r y
##PBS -q gpu
##PBS -A my-project
#
# One chunk (select=1) with 8 CPU cores, one GPU and 32 GB of memory; at most 4 hours;
# stdout and stderr joined (-j oe) into one log (-o); -r y: the job may be rerun, e.g.
# after a node failure. Your cluster: queue (-q) and project (-A), remove one '#' to
# use.
# Torque writes the resources as  #PBS -l nodes=1:ppn=8:gpus=1,mem=32gb
#
# Several GPUs on one node (tf.distribute.MirroredStrategy): ask for them, give the
# input pipeline more cores, and train with --devices multi-gpu, e.g.
#   #PBS -l select=1:ncpus=32:ngpus=4:mem=128gb
#   wastelab train --model cnn --data data/taco.npz --epochs 30 \
#       --devices multi-gpu --out runs/cnn-4gpu
#
# PBS ends a job at its walltime with SIGTERM, then SIGKILL: nothing to catch here,
# since train backs up every epoch. Resubmit, or chain jobs in advance:
#   first=$(qsub book/jobs/pbs_train.sh)
#   qsub -W depend=afterany:"$first" book/jobs/pbs_train.sh

set -euo pipefail
cd "${PBS_O_WORKDIR:-.}"               # PBS starts jobs in $HOME; go where qsub ran

# Your cluster: load its modules and your virtual environment (with wastelab installed).
# module load python/3.11 cuda/12.3
# source "$HOME/venvs/wastelab/bin/activate"

DATA="${DATA:-data/taco.npz}"          # a file made by `wastelab data prepare`
OUT="${OUT:-runs/cnn}"                 # keep it on resubmission: that is how it resumes
export TF_CPP_MIN_LOG_LEVEL=2          # fewer TensorFlow start-up messages in the log

echo "job ${PBS_JOBID:-?} on ${HOSTNAME:-?}, $(date)"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi

if [[ -f "$OUT/model.keras" ]]; then   # finished earlier: do not start from scratch
    echo "$OUT/model.keras exists: training is done (choose another OUT to train again)"
    exit 0
fi

wastelab train --model cnn --data "$DATA" --epochs 30 --out "$OUT"

wastelab evaluate "$OUT/best.keras" --data "$DATA" --split test \
    --json "$OUT/test_scores.json"

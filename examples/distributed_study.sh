#!/usr/bin/env bash
# Run a kerasbio study as one keras-tuner chief and N workers, under Slurm or on this machine.
#
#   sbatch examples/distributed_study.sh capacity --quick        # Slurm: a worker per GPU
#   WORKERS=2 examples/distributed_study.sh capacity --quick     # here: 2 workers, GPU i each
#
# Every trial of the grid runs once, on whichever worker asks first; the chief writes
# results.csv, the figures and report.md into OUT when the grid is done. OUT must be on a
# filesystem every node sees. Submitting the same job again resumes: finished trials are kept,
# and each worker (named worker-<task number>) reruns the trial it was running.
#
#SBATCH --job-name=kerasbio-study
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=kerasbio-study-%j.log
set -euo pipefail

STUDY=${1:?usage: distributed_study.sh STUDY [kerasbio study options]}
shift
OUT=${OUT:-runs/$STUDY-distributed}
PORT=${PORT:-8470}
KERASBIO=${KERASBIO:-kerasbio}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

mkdir -p "$(dirname "$OUT")"
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
  # The chief trains nothing: it runs here, in the batch step on the first node.
  CHIEF_HOST=$(hostname)
  $KERASBIO study "$STUDY" "$@" --out "$OUT" --distributed chief --oracle "0.0.0.0:$PORT" &
  CHIEF=$!
  # One worker per task, named after the task; Slurm gives each task its GPU.
  srun bash -c 'exec '"$KERASBIO"' study "$@" --distributed worker --tuner-id "worker-$SLURM_PROCID"' \
    worker "$STUDY" "$@" --out "$OUT" --oracle "$CHIEF_HOST:$PORT"
else
  WORKERS=${WORKERS:-2}
  GPUS=$(nvidia-smi -L 2>/dev/null | wc -l || true)
  $KERASBIO study "$STUDY" "$@" --out "$OUT" --distributed chief --oracle "127.0.0.1:$PORT" &
  CHIEF=$!
  for ((i = 0; i < WORKERS; i++)); do
    GPU_OPTION=()
    if ((GPUS > 0)); then GPU_OPTION=(--gpus "$((i % GPUS))"); fi
    $KERASBIO study "$STUDY" "$@" --out "$OUT" --distributed worker --tuner-id "worker-$i" \
      --oracle "127.0.0.1:$PORT" "${GPU_OPTION[@]}" > "$OUT.worker-$i.log" 2>&1 &
  done
fi
wait "$CHIEF"  # the report is written when the chief returns
wait

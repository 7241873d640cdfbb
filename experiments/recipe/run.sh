#!/usr/bin/env bash
# The default recipe's ablation: each ingredient switched off in turn, plus the real-data amplitude.
# Usage: experiments/recipe/run.sh [seed ...]   (default seed 0; runs land in experiments/recipe/runs/)
# Rebuild the table: python -m megen.report experiments/recipe/runs
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
LANES=${LANES:-2}                      # runs in parallel, one BLAS/OpenMP thread each
SEEDS=${*:-0}
declare -A ROWS=(
  [default]=""
  [kp_learned]="prior.keypoint_mode=learned"
  [kp_reference]="prior.keypoint_mode=reference"
  [no_mask_prior]="model.dense_motion.mask_prior=false"
  [no_displacement_input]="model.dense_motion.displacement_input=false"
  [flow_not_normalised]="loss.flow_normalise=false"
  [no_equivariance_flow]="loss.weights.equivariance_flow=0"
  [no_flow_supervision]="loss.weights.flow=0"
  [amplitude_256]="dataset.apex_px_at=256"
)
jobs_run=0
for seed in $SEEDS; do
  for row in "${!ROWS[@]}"; do
    dir=experiments/recipe/runs/$row/seed$seed
    [ -f "$dir/metrics.json" ] && continue
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY -m megen.train ${ROWS[$row]} seed=$seed callbacks.progress=null \
      hydra.run.dir="$dir" run_dir="$dir" > "/tmp/recipe-$row-$seed.log" 2>&1 &
    jobs_run=$((jobs_run + 1))
    if (( jobs_run % LANES == 0 )); then wait -n || true; fi
  done
done
wait

#!/usr/bin/env bash
# Run a study's rows x seeds as separate training runs, LANES at a time (one BLAS/OpenMP thread each),
# each into <study>/runs/<row>/seed<k>; finished runs (a metrics.json) are skipped, so it resumes.
# Usage: experiments/run_study.sh <study folder> "<seeds>" "<overrides shared by every row>" < rows
#   rows on stdin, one per line: <row name> <override> <override> ...
# Rebuild a study's table with: python -m megen.report <study folder>/runs
set -euo pipefail
cd "$(dirname "$0")/.."
study=$1; seeds=$2; shared=${3:-}
PY=${PY:-.venv/bin/python}
LANES=${LANES:-2}
mapfile -t rows
running=0
for seed in $seeds; do
  for line in "${rows[@]}"; do
    [ -z "$line" ] && continue
    read -r name overrides <<< "$line"
    dir=$study/runs/$name/seed$seed
    mkdir -p "$(dirname "$dir")"
    [ -f "$dir/metrics.json" ] && continue
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $PY -m megen.train $overrides $shared seed=$seed \
      callbacks.progress=null hydra.run.dir="$dir" run_dir="$dir" > "$dir.log" 2>&1 &
    running=$((running + 1))
    if (( running >= LANES )); then wait -n || true; running=$((running - 1)); fi
  done
done
wait

#!/usr/bin/env bash
# Run a study's rows x seeds as separate training runs, LANES at a time (one BLAS/OpenMP thread each),
# each into experiments/<study>/runs/<row>/seed<k> (RUNS=<folder>: another folder than runs); finished runs (a
# metrics.json, and a real_pairs.json where real.pairs= is set) are skipped, so it resumes.
# The rows are read from conf/experiment/<study>.yaml (its sweeper grid, then its study.rows), the same grid
# that python -m megen.train -m experiment=<study> sweeps: python -m megen.studies.rows <study> lists them.
# Usage: experiments/run_study.sh <study> "<seeds>" "<overrides shared by every row>"
# ROWS="<name> ..." runs only those rows (a row another study's runs already answer, say).
# Rebuild a study's table with: python -m megen.report <study folder>/runs
# A run that fails does not stop the others; each failure is named (with its log) at the end, and the script
# then exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
study_name=$1; seeds=$2; shared=${3:-}
study=experiments/$study_name
PY=${PY:-.venv/bin/python}
LANES=${LANES:-2}
RUNS=${RUNS:-runs}
mapfile -t rows < <($PY -m megen.studies.rows "$study_name")
(( ${#rows[@]} )) || exit 1
for want in ${ROWS:-}; do
  printf '%s\n' "${rows[@]}" | grep -q "^$want " || { echo "error: ROWS: no row '$want' in $study_name" >&2; exit 2; }
done
running=0
failed=0
# wait for one run (any: wait -n) or for every run left (wait -n until none is left), counting failures
finish_one() { if wait -n; then :; else failed=$((failed + 1)); fi; running=$((running - 1)); }
for seed in $seeds; do
  for line in "${rows[@]}"; do
    [ -z "$line" ] && continue
    read -r name overrides <<< "$line"
    [ -n "${ROWS:-}" ] && [[ " $ROWS " != *" $name "* ]] && continue
    dir=$study/$RUNS/$name/seed$seed
    mkdir -p "$(dirname "$dir")"
    # a run scored on real pairs writes metrics.json first, then real_pairs.json: done when the last is there
    done_file=metrics.json
    [[ " $overrides $shared " == *" real.pairs="* ]] && done_file=real_pairs.json
    [ -f "$dir/$done_file" ] && continue
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $PY -m megen.train $overrides $shared seed=$seed \
      callbacks.progress=null hydra.run.dir="$dir" run_dir="$dir" > "$dir.log" 2>&1 &
    running=$((running + 1))
    if (( running >= LANES )); then finish_one; fi
  done
done
while (( running > 0 )); do finish_one; done
if (( failed )); then
  echo "$failed run(s) failed; their logs: $(grep -L -e 'run folder:' $study/$RUNS/*/seed*.log 2>/dev/null | tr '\n' ' ')" >&2
  exit 1
fi

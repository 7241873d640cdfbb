#!/usr/bin/env bash
# Train the study's generators (one per row) on a synthetic set disjoint from the recognition set
# (dataset.seed=1: other pseudo-identities, other expression programs), at half the CPU default's
# budget: EPOCHS=4, the learning rate decayed for the last epoch; each run scores itself at the end
# (metrics.json: rMTE etc. on its own test split).
# Usage: experiments/augmentation/train_generators.sh "fomm_paper fomm_none ..."   (row = <family>_<prior>)
# GEN_DATA replaces the training data (default dataset.seed=1); on real data name datasets whose
# subjects are outside the recognition set, e.g. GEN_DATA="dataset=mix dataset.sources=[samm,smic]".
# Finished rows (a metrics.json) are skipped. Checkpoints go under outputs/augmentation/generators/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-4}
OUT=${OUT:-outputs/augmentation}
GEN_DATA=${GEN_DATA:-dataset.seed=1}
set -f   # overrides such as [samm,smic] are not file patterns
for row in ${1:-fomm_paper fomm_none}; do
  family=${row%_*}; prior=${row#*_}
  dir=$OUT/generators/$row
  [ -f "$dir/metrics.json" ] && continue
  mkdir -p "$dir"
  echo "[$(date +%T)] training generator $row"
  start=$(date +%s)
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY -m megen.train model="$family" prior="$prior" $GEN_DATA \
    trainer.max_epochs="$EPOCHS" "optim.milestones=[$((EPOCHS - 1))]" seed=0 callbacks.progress=null \
    hydra.run.dir="$dir" run_dir="$dir" > "$dir.log" 2>&1
  echo "[$(date +%T)] $row done in $(( $(date +%s) - start )) s"
done

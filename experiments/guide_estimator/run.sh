#!/usr/bin/env bash
# Which estimator should the default's guide be? Farnebäck, DeepFlow and the learned micro-motion estimator as
# the flow-guided default's guide, each trained at the default budget and scored on the synthetic test split
# and, at the end of training, on real pairs under every estimator of real.estimators.
# Usage: REAL_PAIRS=<pairs.csv> [MICROFLOW=<checkpoint>] experiments/guide_estimator/run.sh ["<seeds>"] ["<overrides>"]
# Without MICROFLOW the estimator is trained first with its default recipe (python -m megen.train_flow, seed 0,
# about an hour on a 2-core CPU) into experiments/guide_estimator/estimator.
cd "$(dirname "$0")/../.."
: "${REAL_PAIRS:?set REAL_PAIRS to a pairs CSV (driving,target[,compare])}"
PY=${PY:-.venv/bin/python}
if [ -z "${MICROFLOW:-}" ]; then
  MICROFLOW=experiments/guide_estimator/estimator/checkpoints/last.ckpt
  [ -f "$MICROFLOW" ] || $PY -m megen.train_flow seed=0 hydra.run.dir=experiments/guide_estimator/estimator || exit 1
fi
export REAL_PAIRS MICROFLOW
exec experiments/run_study.sh guide_estimator "${1:-0 1 2}" "${2:-} real.pairs=\${oc.env:REAL_PAIRS}"

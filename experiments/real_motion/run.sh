#!/usr/bin/env bash
# Which motion model transfers real micro-expressions? The paper's facial-prior FOMM (the key-point recipe)
# against the flow-guided family with and without the facial prior, and with its training guides measured on
# the 64-px frames instead of the fine render (dataset.guides=false, the model then measures them itself), each
# scored on the synthetic test split and, at the end of training, on real pairs without ground truth.
# Usage: REAL_PAIRS=<pairs.csv> experiments/real_motion/run.sh ["<seeds>"] ["<shared overrides>"]
#   e.g. REAL_PAIRS=~/me_pairs/pairs.csv experiments/real_motion/run.sh "0 1 2" "trainer.max_epochs=4"
# The pairs file is read through the environment, so the committed overrides do not name where it lies.
cd "$(dirname "$0")/../.."
: "${REAL_PAIRS:?set REAL_PAIRS to a pairs CSV (driving,target[,compare])}"
export REAL_PAIRS
exec experiments/run_study.sh real_motion "${1:-0 1 2}" "${2:-} real.pairs=\${oc.env:REAL_PAIRS}"

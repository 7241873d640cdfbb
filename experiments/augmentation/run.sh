#!/usr/bin/env bash
# Does generation help recognition? LOSO recognition trained on real clips only, with classic
# augmentation, and with each generator's clips as extra training data; SEEDS seeds per row.
# Usage: experiments/augmentation/run.sh [recognise overrides ...]
#   experiments/augmentation/run.sh                                  # the committed table (synthetic, classes=emotions)
#   ROWS="real classic fomm_paper fomm_none mraa_paper mraa_none tps_paper tps_none" experiments/augmentation/run.sh
#   ROWS="real classic au_fill" experiments/augmentation/run.sh       # classes filled with AU-made clips
#   OUT=outputs/augmentation-casme2 STUDY=experiments/augmentation/casme2 GEN_DATA="dataset=mix dataset.sources=[samm,smic]" \
#     experiments/augmentation/run.sh dataset=casme2 classes=composite
# Generators (rows <family>_<prior>) are trained first where missing (train_generators.sh), then
# study.py generates their clips (outputs/augmentation/generated/<row>) and runs every row x seed
# one after another, writing runs/<row>/seed<k>.json, results.md and study.json here. Finished
# pieces are skipped, so an interrupted study resumes; delete runs/ to rerun the recognisers.
set -euo pipefail
cd "$(dirname "$0")/../.."
export ROWS=${ROWS:-"real classic fomm_paper fomm_none"}
export SEEDS=${SEEDS:-"0 1 2"}
export OUT=${OUT:-outputs/augmentation}                # generators and generated clips (never committed)
export GENERATORS=$OUT/generators GENERATED=$OUT/generated
PY=${PY:-.venv/bin/python}
generators=""
for row in $ROWS; do
  case $row in real|classic|au_fill) ;; *) generators="$generators $row" ;; esac
done
# row au_fill: an AU basis fitted on another synthetic set (other identities and programs), so that no fold's
# held-out subject lends its motion to the clips that fill the classes
if [[ " $ROWS " == *" au_fill "* && ! -f $GENERATORS/au_basis/au_basis.npz ]]; then
  $PY -m megen.aubasis fit dataset.seed=1 out=$GENERATORS/au_basis
fi
[ -n "$generators" ] && experiments/augmentation/train_generators.sh "$generators"
# the synthetic composite task sits at the ceiling (see README), so emotions are the default here
case " $* " in *" classes="*) classes=() ;; *) classes=(classes=emotions) ;; esac
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY experiments/augmentation/study.py "${classes[@]}" "$@"

#!/usr/bin/env bash
# The paper's comparison of training sets without the licensed data: the key-point model trained on the
# synthetic set in each dataset's style, alone and mixed, several seeds.
# Usage: experiments/sweep_mix/run.sh ["<seeds>"] ["<shared overrides>"]   e.g. "0 1 2" 'real.pairs=${oc.env:REAL_PAIRS}'
# Rows: conf/experiment/sweep_mix.yaml; python -m megen.report --by-driver experiments/sweep_mix/runs reads them
# per driving clip.
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh sweep_mix "${1:-0 1 2}" "${2:-}"

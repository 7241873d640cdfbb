#!/usr/bin/env bash
# Prior width in frame pixels under the default recipe, several seeds.
# Usage: experiments/sweep_sigma/run.sh ["<seeds>"] ["<shared overrides>"]
# Rows: conf/experiment/sweep_sigma.yaml; the same rows as a Hydra multirun: python -m megen.train -m experiment=sweep_sigma seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh sweep_sigma "${1:-0 1 2}" "${2:-}"

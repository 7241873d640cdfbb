#!/usr/bin/env bash
# Prior width in frame pixels under the default recipe, several seeds.
# Usage: experiments/sweep_sigma/run.sh ["<seeds>"] ["<shared overrides>"]
# The same rows as a Hydra multirun: python -m megen.train -m experiment=sweep_sigma seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh experiments/sweep_sigma "${1:-0 1 2}" "model=fomm ${2:-}" <<'ROWS'
sigma2 prior.sigma=2
sigma4 prior.sigma=4
sigma8 prior.sigma=8
sigma16 prior.sigma=16
ROWS

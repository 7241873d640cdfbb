#!/usr/bin/env bash
# Key-point sets of the prior, each with the prior map fed to the key-point detector (concat) and
# without it (none: the set's points are still tracked, as the default recipe's key points), several seeds.
# Usage: experiments/sweep_keypoints/run.sh ["<seeds>"] ["<shared overrides>"]
# The same rows as a Hydra multirun: python -m megen.train -m experiment=sweep_keypoints seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh experiments/sweep_keypoints "${1:-0 1 2}" "model=fomm ${2:-}" <<'ROWS'
paper18_concat prior.keypoints=paper18 prior.input=concat
paper18_none prior.keypoints=paper18 prior.input=none
all68_concat prior.keypoints=all68 prior.input=concat
all68_none prior.keypoints=all68 prior.input=none
au24_concat prior.keypoints=au24 prior.input=concat
au24_none prior.keypoints=au24 prior.input=none
ROWS

#!/usr/bin/env bash
# Key-point sets of the prior, each with the prior map fed to the key-point detector (concat) and
# without it (none: the set's points are still tracked, as the default recipe's key points), several seeds.
# Usage: experiments/sweep_keypoints/run.sh ["<seeds>"] ["<shared overrides>"]
# Rows: conf/experiment/sweep_keypoints.yaml; the same rows as a Hydra multirun: python -m megen.train -m experiment=sweep_keypoints seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh sweep_keypoints "${1:-0 1 2}" "${2:-}"

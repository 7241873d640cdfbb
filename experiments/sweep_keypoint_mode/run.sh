#!/usr/bin/env bash
# Key-point modes under the default recipe, several seeds: learned heatmap means, offsets anchored on the
# prior's landmarks, the public code's static onset points. The default mode (landmarks: the onset points
# tracked onto each frame) is the sigma8 row of ../sweep_sigma, the same configuration.
# Usage: experiments/sweep_keypoint_mode/run.sh ["<seeds>"] ["<shared overrides>"]   e.g. "0 1 2" "trainer.max_epochs=4"
# Rows: conf/experiment/sweep_keypoint_mode.yaml; the same rows as a Hydra multirun: python -m megen.train -m experiment=sweep_keypoint_mode seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh sweep_keypoint_mode "${1:-0 1 2}" "${2:-}"

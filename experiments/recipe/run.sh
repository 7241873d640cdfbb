#!/usr/bin/env bash
# The default recipe's ablation: each ingredient switched off in turn, and the real-data amplitude.
# Usage: experiments/recipe/run.sh ["<seeds>"] ["<shared overrides>"]   e.g. experiments/recipe/run.sh "0" "trainer.max_epochs=4"
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh experiments/recipe "${1:-0 1 2}" "${2:-}" <<'ROWS'
default
kp_learned prior.keypoint_mode=learned
kp_anchored prior.keypoint_mode=anchored
kp_reference prior.keypoint_mode=reference
no_mask_prior model.dense_motion.mask_prior=false
no_displacement_input model.dense_motion.displacement_input=false
flow_not_normalised loss.flow_normalise=false
no_equivariance_flow loss.weights.equivariance_flow=0
amplitude_256 dataset.apex_px_at=256
ROWS

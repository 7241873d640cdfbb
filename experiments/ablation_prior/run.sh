#!/usr/bin/env bash
# FOMM, MRAA and TPS, each without and with the facial prior (prior=paper: the prior map channel and the
# tracked onset key points of the default recipe), several seeds; and MRAA with the prior but each frame's own
# region shapes (the family's original behaviour) instead of the onset frame's.
# Usage: experiments/ablation_prior/run.sh ["<seeds>"] ["<shared overrides>"]   e.g. "0 1 2" "trainer.max_epochs=4"
# The same six variants as a Hydra multirun: python -m megen.train -m experiment=ablation_prior seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh ablation_prior "${1:-0 1 2}" "${2:-}"

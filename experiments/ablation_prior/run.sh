#!/usr/bin/env bash
# FOMM, MRAA and TPS, each without and with the facial prior (prior=paper: the prior map channel and the
# tracked onset key points of the default recipe), several seeds; and MRAA with the prior but each frame's own
# region shapes (the family's original behaviour) instead of the onset frame's.
# Usage: experiments/ablation_prior/run.sh ["<seeds>"] ["<shared overrides>"]   e.g. "0 1 2" "trainer.max_epochs=4"
# The same six variants as a Hydra multirun: python -m megen.train -m experiment=ablation_prior seed=0,1,2
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh experiments/ablation_prior "${1:-0 1 2}" "${2:-}" <<'ROWS'
fomm_none model=fomm prior=none
fomm_paper model=fomm prior=paper
mraa_none model=mraa prior=none
mraa_paper model=mraa prior=paper
mraa_paper_frame_shape model=mraa prior=paper model.motion.region_shape=frame
tps_none model=tps prior=none
tps_paper model=tps prior=paper
ROWS

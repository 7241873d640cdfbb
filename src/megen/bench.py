"""``python -m megen.bench <case> [...]``: speed measurements (never asserted in tests); whether a
configuration learns at all is ``python -m megen.diagnose``.

Cases:
    synthetic   time ``prepare`` of the default synthetic set into a fresh temporary cache
    prepare     preparation throughput on a generated CASME II-sized raw tree (about 250 clips of about
                60 frames, 640x480 JPEG): ``clips=250 frames=60 workers=2``
    all         the three cases above and below, in turn
    generate    frames per second animating a 256x256 clip (vox-256 FOMM and the paper configuration),
                megen's clip animation against a per-frame loop that re-encodes the target every frame, and
                (on the CPU) the per-frame graph exported to ONNX in ONNX Runtime, with its largest difference
                from torch's frames (``frames=16 experiments=fomm_vox256,fp_fomm_paper onnx=true``, dotted keys such as
                ``dataset.frame_size=128`` override each experiment's config); each line
                also gives the GFLOP of one more frame and the arithmetic rate reached (``gflops``), which
                bound what any faster runtime can gain without doing less work; ``precision=bf16`` adds the clip
                animation in bf16 beside fp32, with its largest difference from the fp32 frames. Without the
                export extra the ONNX line is one sentence saying what to install
    train       seconds per training step (one batch: every loss term, generator, motion and discriminator
                updates, as ``training_step`` runs them in a Lightning loop) on random batches of the train
                config (Hydra overrides, e.g. ``experiment=fomm_vox256``) with ``bench.size=128 bench.batch=4
                bench.steps=3 bench.warmup=1``; the median after warm-up, samples per second, the GFLOP of one
                step (``FlopCounterMode``), the median CPU seconds of all threads (``cpu_s``: what a step
                costs when other processes share the cores), and the facial prior's overhead: the same
                case without the prior (``prior.input=none prior.keypoint_mode=learned``, as ``prior=none``).
                ``trainer.precision=bf16-mixed`` also times the fp32 case and prints the ratio.
                ``bench.reference=<first-order-model checkout>`` times the public code's training step at its
                own config (``bench.reference_config=config/vox-256.yaml``) between megen's steps, interleaved in
                one run, and prints both medians and ``megen_over_reference``. ``bench.threads=1`` runs on one
                thread, where ``cpu_s`` is the work itself even on cores other processes share

Every line ends in ``cpu=<torch.backends.cpu.get_cpu_capability()>`` (AVX2, AVX512, ...).
"""

from __future__ import annotations

import argparse

from megen.benchmarks.generation import generation_fps
from megen.benchmarks.preparation import raw_tree_preparation, synthetic_preparation
from megen.benchmarks.training import training_step_times


def every_preparation_and_generation(overrides: list[str]) -> None:
    for case in ("synthetic", "prepare", "generate"):
        CASES[case](overrides)


CASES = {"synthetic": synthetic_preparation, "prepare": raw_tree_preparation, "generate": generation_fps,
         "train": training_step_times, "all": every_preparation_and_generation}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("overrides", nargs="*", help="key=value settings of the case's config")
    args = parser.parse_args(argv)
    CASES[args.case](args.overrides)


if __name__ == "__main__":
    main()

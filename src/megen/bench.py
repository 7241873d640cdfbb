"""``python -m megen.bench <case> [key=value ...]``: speed measurements (never asserted in tests); whether a
configuration learns at all is ``python -m megen.diagnose``.

The ``bench.*`` settings are ``conf/bench.yaml``; every other ``key=value`` is an ordinary Hydra override of the
train config (``experiment=``, ``model=``, ``dataset.*``), which chooses what is timed.

Cases:
    synthetic   ``prepare`` of the train config's dataset (default synthetic) into a fresh temporary cache, then
                again from it
    prepare     preparation throughput on a generated CASME II-sized raw tree (``bench.clips=250
                bench.clip_frames=60 bench.workers=2``: about 250 clips of 60 frames, 640x480 JPEG)
    flow        every optical-flow estimator (megen.ops.flow) on synthetic faces at 256 px moved by known
                sub-pixel regional motions (``bench.flow_px=[0.1,0.2,0.5,1,2]``, ``bench.flow_noise=2`` gray levels,
                ``bench.identities=5`` not in the training set): end-point error and its ratio to zero flow's,
                the magnitude ratio, false motion in still areas, and ms per pair
    augment     clips per second of ``python -m megen.augment`` (its prediction loop and writer) with the train
                config's model, untrained, on its dataset (``bench.per_clip=1`` target per driving clip)
    all         the three cases above and below, in turn
    generate    frames per second animating a clip at each of ``bench.experiments`` (default vox-256 FOMM and
                the paper configuration, 256 px; other overrides such as ``dataset.frame_size=128`` apply to
                each): megen's clip animation against a per-frame loop that re-encodes the target every frame,
                first the CPU default's models rendering natively (``bench.native=false`` skips them), and on
                the CPU the per-frame graph exported to ONNX in ONNX Runtime with its largest difference from
                torch's frames (``bench.onnx=false`` skips it; without the export extra it is one sentence
                saying what to install). Each line gives the GFLOP of one more frame and the arithmetic rate
                reached (``gflops``), which bound what a faster runtime can gain without doing less work;
                ``bench.precision=bf16`` adds bf16 beside fp32, with its largest difference
    train       seconds per training step (one batch: every loss term and optimiser update, as
                ``training_step`` runs them in a Lightning loop) on random batches (``bench.size=128 bench.batch=4
                bench.steps=3 bench.warmup=1``): the median after warm-up, samples per second, the GFLOP of one
                step, the median CPU seconds of all threads (``cpu_s``: what a step costs when other processes
                share the cores), and the facial prior's overhead (the same case without the prior).
                ``trainer.precision=bf16-mixed`` also times fp32 and prints the ratio.
                ``bench.reference=<first-order-model checkout>`` times the public code's training step at its
                own config (``bench.reference_config=config/vox-256.yaml``) between megen's, interleaved in
                one run, and prints both medians and ``megen_over_reference``. ``bench.threads=1`` runs on one
                thread, where ``cpu_s`` is the work itself even on cores other processes share

Every line ends in ``cpu=<torch.backends.cpu.get_cpu_capability()>`` (AVX2, AVX512, ...).
A bad key or value is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse

from megen.benchmarks.augmentation import augment_throughput
from megen.benchmarks.flow import estimator_accuracy
from megen.benchmarks.generation import generation_fps
from megen.benchmarks.preparation import raw_tree_preparation, synthetic_preparation
from megen.benchmarks.training import training_step_times
from megen.config.check import ConfigError, validate_bench
from megen.config.compose import ComposeError, compose_settings
from megen.runtime.cli import user_errors


def every_preparation_and_generation(settings, overrides: list[str]) -> None:
    for case in ("synthetic", "prepare", "generate"):
        CASES[case](settings, overrides)


CASES = {"synthetic": synthetic_preparation, "prepare": raw_tree_preparation, "generate": generation_fps,
         "train": training_step_times, "augment": augment_throughput, "flow": estimator_accuracy,
         "all": every_preparation_and_generation}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("overrides", nargs="*", help="bench.<key>=value settings and the train config's overrides")
    args = parser.parse_args(argv)
    with user_errors(ComposeError, ConfigError):     # train overrides are composed (and checked) by each case
        cfg, train = compose_settings("bench", "bench", args.overrides)
        validate_bench(cfg)
        CASES[args.case](cfg.bench, train)


if __name__ == "__main__":
    main()

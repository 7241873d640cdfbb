"""Do torch.compile or channels_last speed up the default's native generation on the CPU? The flow-guided
model's per-frame networks (dense motion, decoder) at 256-px output, 4 frames per pass, random weights and frames
as `python -m megen.bench generate` times them, the guide measured on every run. Eager and channels_last alternate
in one process (3 rounds, median of 3 runs each); then the networks are compiled (inductor) and timed once more.

    python experiments/generation_speed/compile_and_layout.py        # about 2 minutes, most of it compiling
"""
import time

import numpy as np
import torch

from megen.animation import FaceInput, animate
from megen.animation.native import to_tensor_frames
from megen.animation.sources import forget_measured
from megen.benchmarks.generation import untrained_model
from megen.config.compose import compose_train

N_FRAMES, OUT, BATCH = 16, 256, 4


def main() -> None:
    model, prior, size = untrained_model(compose_train("model=flow"))
    model.eval()
    rng = np.random.default_rng(0)
    lm_out = rng.uniform(0.25 * OUT, 0.75 * OUT, (68, 2))
    lm = (lm_out + 0.5) * size / OUT - 0.5
    kp = torch.rand(1, prior.num_keypoints, 2) * 2 - 1
    maps = torch.rand(1, prior.channels, prior.map_size, prior.map_size)
    target = FaceInput(torch.rand(1, 3, size, size), maps, kp, lm, True, torch.rand(1, 3, OUT, OUT), lm_out)
    frames = to_tensor_frames(rng.integers(0, 256, (N_FRAMES, OUT, OUT), dtype=np.uint8))
    driving = FaceInput(torch.rand(N_FRAMES, 3, size, size), maps, kp, lm, True, frames, lm_out)

    def run():
        forget_measured()       # every run measures the guide, as one pair does
        return animate(model, target, driving, batch_size=BATCH, render="native")

    def fps(label: str, reference=None) -> None:
        frames_out = run()
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        largest = None if reference is None else float((frames_out.float() - reference.float()).abs().max())
        diff = "" if largest is None else f", largest difference {largest:.1e}"
        print(f"{label}: {N_FRAMES / np.median(seconds):.1f} fps{diff}", flush=True)

    eager = run()
    for k in range(3):
        model.to(memory_format=torch.contiguous_format)
        fps(f"eager, round {k}")
        model.to(memory_format=torch.channels_last)
        fps(f"channels_last, round {k}", eager)
    model.to(memory_format=torch.contiguous_format)
    start = time.perf_counter()
    model.dense_motion = torch.compile(model.dense_motion, dynamic=False)
    model.generator.decode = torch.compile(model.generator.decode, dynamic=False)
    run()
    print(f"torch.compile (inductor): compiling and the first run {time.perf_counter() - start:.1f} s")
    fps("compiled", eager)


if __name__ == "__main__":
    main()

"""How a benchmark times and reports: the median of runs after a warm-up, and every line ending in the
CPU's instruction-set level."""
from __future__ import annotations

import time


def cpu_capability() -> str:
    """The instruction-set level torch's CPU kernels run at (``AVX2``, ``AVX512``, ...): every bench line
    says it, since it decides the speed of each precision (``ATEN_CPU_CAPABILITY=avx2`` forces a lower one)."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def bench_device(settings) -> str:
    """``bench.device``: auto is cuda where torch sees a GPU, else cpu."""
    from megen.animation.animate import resolve_device

    return resolve_device(settings.device)


def say(line: str) -> None:
    print(f"{line} cpu={cpu_capability()}")


def median_seconds(run, device, repeats: int = 3) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls after one warm-up call (first-call costs:
    oneDNN primitives, the allocator, CUDA kernels), each synchronised on GPUs."""
    import statistics

    import torch

    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    run()
    sync()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

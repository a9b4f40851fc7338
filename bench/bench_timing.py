"""Timers and summary statistics for the SVD benchmark.

A timer runs one call and returns (device_ms, wall_ms): device_ms from GPU events on the
stream the call was enqueued on (None where no events exist), wall_ms from time.perf_counter
around the call with the device drained before and after. Outputs are dropped inside the
timer so a timed call never holds the previous call's results.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

Timer = Callable[[Callable[[Any], Any], Any], tuple[float | None, float]]


def median_call_ms(fn: Callable[[], Any], device: torch.device, repeats: int = 3) -> float:
    """Median wall time of `repeats` calls of fn() after one warm-up call, the device drained
    around each (the tuning scripts' timer)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def time_cpu(fn: Callable[[Any], Any], x: Any) -> tuple[float | None, float]:
    """Wall clock of a synchronous CPU call."""
    t0 = time.perf_counter()
    fn(x)
    return None, (time.perf_counter() - t0) * 1e3


def time_torch_cuda(fn: Callable[[Any], Any], x: Any) -> tuple[float | None, float]:
    """CUDA events on torch's current stream, plus drained wall clock."""
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    start.record()
    fn(x)
    end.record()
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) * 1e3
    return start.elapsed_time(end), wall


def make_cupy_timer(cp: Any) -> Timer:
    """CUDA events on CuPy's current stream, plus drained wall clock."""

    def time_cupy(fn: Callable[[Any], Any], x: Any) -> tuple[float | None, float]:
        start, end = cp.cuda.Event(), cp.cuda.Event()
        cp.cuda.Device().synchronize()
        t0 = time.perf_counter()
        start.record()
        fn(x)
        end.record()
        cp.cuda.Device().synchronize()
        wall = (time.perf_counter() - t0) * 1e3
        return cp.cuda.get_elapsed_time(start, end), wall

    return time_cupy


def make_jax_timer(jax: Any) -> Timer:
    """Wall clock until jax.block_until_ready returns (JAX exposes no stream events)."""

    def time_jax(fn: Callable[[Any], Any], x: Any) -> tuple[float | None, float]:
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x))
        return None, (time.perf_counter() - t0) * 1e3

    return time_jax


@dataclass
class Timing:
    """Summary of the timed repeats of one implementation on one workload."""

    median_ms: float
    min_ms: float
    iqr_ms: float
    repeats: int
    warmup: int
    wall_median_ms: float
    source: str  # "events" or "wall": where median/min/iqr come from


def summarize(device_ms: list[float | None], wall_ms: list[float], warmup: int) -> Timing:
    """Median, min and interquartile range; event times are preferred when all exist."""
    use_events = all(t is not None for t in device_ms)
    times = [float(t) for t in device_ms] if use_events else wall_ms
    if len(times) >= 2:
        q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
        iqr = q3 - q1
    else:
        iqr = 0.0
    return Timing(
        median_ms=statistics.median(times),
        min_ms=min(times),
        iqr_ms=iqr,
        repeats=len(times),
        warmup=warmup,
        wall_median_ms=statistics.median(wall_ms),
        source="events" if use_events else "wall",
    )


def benchmark(fn: Callable[[Any], Any], inputs: list[Any], timer: Timer, warmup: int,
              repeats: int, budget_s: float) -> Timing:
    """Warm up, then time up to `repeats` calls rotating over `inputs`.

    `budget_s` bounds the time spent: warm-ups stop once they used half of it and timed calls
    once they used all of it; at least one warm-up (JIT compilation, workspace allocation,
    library loading) and one timed call always run.
    """
    spent, done_warmup = 0.0, 0
    while done_warmup < max(warmup, 1) and (done_warmup == 0 or spent < budget_s / 2):
        spent += timer(fn, inputs[done_warmup % len(inputs)])[1] / 1e3
        done_warmup += 1
    device_ms: list[float | None] = []
    wall_ms: list[float] = []
    while len(wall_ms) < repeats and (not wall_ms or sum(wall_ms) / 1e3 < budget_s):
        dev, wall = timer(fn, inputs[len(wall_ms) % len(inputs)])
        device_ms.append(dev)
        wall_ms.append(wall)
    return summarize(device_ms, wall_ms, done_warmup)

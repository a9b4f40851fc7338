"""Workloads and test matrices for the SVD benchmark.

A workload is a batch of equally shaped matrices, written "BxMxN" (batch x rows x cols) or
"MxN" (a single, unbatched matrix). Matrices are generated on the CPU in float64 from a fixed
seed, then cast to the benchmark dtype and moved to the device, so every implementation sees
bit-identical inputs. New matrix classes are added to MATRIX_CLASSES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

SUITES = {
    "small": ["64x128x128", "256x64x64", "512x32x32"],
    "large": ["1024x1024", "2048x2048", "4096x2048", "4096x4096", "16384x256", "3072x8192",
              "8192x8192"],
    # Top-k only (TRUNCATED): metalsvd.randomized_svd and lanczos_svd against
    # torch.svd_lowrank; the accuracy reference is float64 svdvals on the device.
    "truncated": ["4096x4096", "8192x8192", "10000x10000"],
    # The singular values alone (compute_uv=False, torch.linalg.svdvals): the large sizes.
    "values": ["1024x1024", "2048x2048", "4096x2048", "4096x4096", "16384x256", "3072x8192",
               "8192x8192"],
}

# The truncated suite's problem: k triplets, the randomized methods' oversampling and power
# iterations (torch.svd_lowrank gets q = k + oversample, niter = n_iter).
TRUNCATED = {"k": 100, "oversample": 10, "n_iter": 2}

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

# Rotating several input sets keeps a timed call from reusing the previous call's buffer.
# Only worth it while the extra sets are cheap to hold on the device.
MAX_INPUT_SETS = 3
ROTATION_BYTES_LIMIT = 512 * 2**20

# Condition number of the "geometric" class: wide enough to stress accuracy, still
# far from fp32 round-off (1/eps32 ~ 1.7e7).
GEOMETRIC_CONDITION = 1e6


@dataclass(frozen=True)
class Workload:
    """A batch of `batch` matrices of shape m x n; `batch` is None for a single matrix."""

    batch: int | None
    m: int
    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        """Tensor shape of the workload's input."""
        return (self.m, self.n) if self.batch is None else (self.batch, self.m, self.n)

    @property
    def count(self) -> int:
        """Number of matrices in the workload."""
        return 1 if self.batch is None else self.batch

    @property
    def label(self) -> str:
        """The workload as written on the command line."""
        mn = f"{self.m}x{self.n}"
        return mn if self.batch is None else f"{self.batch}x{mn}"


def parse_workload(text: str) -> Workload:
    """Parse "BxMxN" or "MxN" into a Workload; raises ValueError on anything else."""
    parts = text.strip().lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise ValueError(f"workload {text!r}: expected BxMxN or MxN with positive integers")
    if len(dims) == 2:
        return Workload(None, dims[0], dims[1])
    return Workload(dims[0], dims[1], dims[2])


def gaussian(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """I.i.d. standard normal entries (float64)."""
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def geometric(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Random orthogonal factors around singular values spaced geometrically 1 .. 1/cond."""
    *batch, m, n = shape
    k = min(m, n)
    u, _ = torch.linalg.qr(torch.randn(*batch, m, k, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(*batch, n, k, generator=gen, dtype=torch.float64))
    sigma = torch.logspace(0, -torch.log10(torch.tensor(GEOMETRIC_CONDITION)).item(), k,
                           dtype=torch.float64)
    return (u * sigma) @ v.mT


MATRIX_CLASSES: dict[str, Callable[[tuple[int, ...], torch.Generator], torch.Tensor]] = {
    "gaussian": gaussian,
    "geometric": geometric,
}


def input_set_count(workload: Workload, dtype: torch.dtype) -> int:
    """How many distinct input sets to rotate through while timing."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    set_bytes = workload.count * workload.m * workload.n * itemsize
    return max(1, min(MAX_INPUT_SETS, ROTATION_BYTES_LIMIT // max(set_bytes, 1)))


def make_inputs(workload: Workload, matrix: str, dtype: torch.dtype, device: torch.device,
                seed: int) -> list[torch.Tensor]:
    """Deterministic input sets for one workload; set i uses seed + i."""
    make = MATRIX_CLASSES[matrix]
    sets = []
    for i in range(input_set_count(workload, dtype)):
        gen = torch.Generator(device="cpu").manual_seed(seed + i)
        sets.append(make(workload.shape, gen).to(dtype).to(device).contiguous())
    return sets

"""`python -m metalsvd demo`: factor the example workloads on the best device present and check
every result against LAPACK in float64."""

import time
from dataclasses import dataclass

import torch

from ._accuracy import FP32, svd_errors
from ._devices import best_device, synchronize
from ._svd import svd

@dataclass
class Example:
    name: str
    batch: int
    rows: int
    cols: int


# The batched example, a tall and a wide batch, sized so the CPU emulator takes seconds.
GPU_EXAMPLES = [
    Example("batched 128x128", 64, 128, 128),
    Example("batched 64x64", 256, 64, 64),
    Example("batched 32x32", 512, 32, 32),
    Example("tall 256x16", 64, 256, 16),
    Example("wide 16x256", 64, 16, 256),
]
EMULATOR_EXAMPLES = [
    Example("batched 64x64", 8, 64, 64),
    Example("batched 32x32", 64, 32, 32),
    Example("tall 256x16", 8, 256, 16),
    Example("wide 16x256", 8, 16, 256),
]


def run(device=None) -> int:
    device = torch.device(device) if device is not None else best_device()
    examples = EMULATOR_EXAMPLES if device.type == "cpu" else GPU_EXAMPLES
    backend = {"cpu": "cpu threadgroup emulator", "cuda": "CUDA", "mps": "Metal"}[device.type]
    print(f"metalsvd demo on {device} ({backend}), torch {torch.__version__}")
    print(f"{'example':<18}{'shape':>16}{'ms':>10}{'sigma err':>12}{'orth U':>10}"
          f"{'orth V':>10}{'recon':>10}  result")
    failures = 0
    generator = torch.Generator().manual_seed(0)
    for ex in examples:
        A = torch.randn(ex.batch, ex.rows, ex.cols, generator=generator).to(device)
        svd(A)  # warm-up: kernel loading and allocator
        synchronize(device)
        start = time.perf_counter()
        U, S, V = svd(A)
        synchronize(device)
        ms = (time.perf_counter() - start) * 1e3
        errors = svd_errors(A, U, S, V)
        ok = errors.within(FP32)
        failures += not ok
        shape = f"{ex.batch}x{ex.rows}x{ex.cols}"
        print(f"{ex.name:<18}{shape:>16}{ms:>10.2f}{errors.sigma:>12.1e}"
              f"{errors.u_orthogonality:>10.1e}{errors.v_orthogonality:>10.1e}"
              f"{errors.reconstruction:>10.1e}  {'ok' if ok else 'FAIL'}", flush=True)
    print("all results match LAPACK" if not failures else f"{failures} example(s) FAILED")
    return 1 if failures else 0

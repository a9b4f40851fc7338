"""`python -m metalsvd demo`: factor the example workloads on the best device present and check
every result against LAPACK in float64."""

import time
from dataclasses import dataclass

import torch

from ._devices import best_device, synchronize
from ._svd import svd

# fp32 accuracy contract (docs/architecture.md).
SIGMA_TOL = 2e-6
ORTHOGONALITY_TOL = 1e-5
RECONSTRUCTION_TOL = 5e-6


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


def check(A, U, S, V):
    """Errors against LAPACK (float64, CPU) of the same inputs."""
    A, U, S, V = (x.detach().cpu().double() for x in (A, U, S, V))
    ref = torch.linalg.svdvals(A)
    eye = torch.eye(S.shape[-1], dtype=torch.float64)
    return {
        "sigma": ((S - ref).abs() / ref[..., :1]).amax().item(),
        "orth_U": (U.mT @ U - eye).abs().amax().item(),
        "orth_V": (V.mT @ V - eye).abs().amax().item(),
        "recon": (
            torch.linalg.matrix_norm(A - U @ torch.diag_embed(S) @ V.mT)
            / torch.linalg.matrix_norm(A)
        )
        .amax()
        .item(),
    }


def passes(errors):
    return (
        errors["sigma"] <= SIGMA_TOL
        and errors["orth_U"] <= ORTHOGONALITY_TOL
        and errors["orth_V"] <= ORTHOGONALITY_TOL
        and errors["recon"] <= RECONSTRUCTION_TOL
    )


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
        errors = check(A, U, S, V)
        ok = passes(errors)
        failures += not ok
        shape = f"{ex.batch}x{ex.rows}x{ex.cols}"
        print(f"{ex.name:<18}{shape:>16}{ms:>10.2f}{errors['sigma']:>12.1e}"
              f"{errors['orth_U']:>10.1e}{errors['orth_V']:>10.1e}{errors['recon']:>10.1e}"
              f"  {'ok' if ok else 'FAIL'}", flush=True)
    print("all results match LAPACK" if not failures else f"{failures} example(s) FAILED")
    return 1 if failures else 0

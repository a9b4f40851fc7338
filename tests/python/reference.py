"""Independent reference: LAPACK through torch in float64 on the CPU, and the error measures
of the accuracy contract (docs/architecture.md)."""

from dataclasses import dataclass

import torch

# fp32 contract: sigma error relative to sigma_max, orthogonality, reconstruction.
FP32 = dict(sigma=2e-6, orthogonality=1e-5, reconstruction=5e-6)
FP64 = dict(sigma=1e-12, orthogonality=1e-12, reconstruction=1e-12)
# 16-bit outputs are rounded to their type: errors at its precision.
FP16 = dict(sigma=2e-3, orthogonality=4e-3, reconstruction=4e-3)
BF16 = dict(sigma=2e-2, orthogonality=3e-2, reconstruction=3e-2)
CONTRACT = {
    torch.float32: FP32,
    torch.float64: FP64,
    torch.float16: FP16,
    torch.bfloat16: BF16,
}


@dataclass
class Errors:
    sigma: float
    u_orthogonality: float
    v_orthogonality: float
    reconstruction: float
    sorted_nonnegative: bool

    def within(self, contract):
        return (
            self.sigma <= contract["sigma"]
            and self.u_orthogonality <= contract["orthogonality"]
            and self.v_orthogonality <= contract["orthogonality"]
            and self.reconstruction <= contract["reconstruction"]
            and self.sorted_nonnegative
        )


def _orthogonality(Q):
    eye = torch.eye(Q.shape[-1], dtype=Q.dtype)
    if Q.numel() == 0:
        return 0.0
    return (Q.mT @ Q - eye).abs().amax().item()


def svd_errors(A, U, S, V):
    """Worst errors over a batch, against LAPACK float64 on the input as given (in its dtype)."""
    A = A.detach().cpu().double()
    U, S, V = (x.detach().cpu().double() for x in (U, S, V))
    k = S.shape[-1]
    ref = torch.linalg.svdvals(A)
    smax = ref[..., :1].clamp_min(torch.finfo(torch.float64).tiny)
    sigma = ((S - ref).abs() / smax).amax().item() if S.numel() else 0.0
    recon = U[..., :k] @ torch.diag_embed(S) @ V[..., :k].mT
    norm = torch.linalg.matrix_norm(A).clamp_min(torch.finfo(torch.float64).tiny)
    reconstruction = (
        (torch.linalg.matrix_norm(A - recon) / norm).amax().item() if A.numel() else 0.0
    )
    sorted_nonnegative = bool((S >= 0).all()) and bool((S[..., :-1] >= S[..., 1:]).all())
    return Errors(sigma, _orthogonality(U), _orthogonality(V), reconstruction, sorted_nonnegative)


def with_singular_values(m, n, sigma, generator, dtype=torch.float64):
    """A random m x n matrix with the given singular values (min(m, n) of them)."""
    k = sigma.shape[-1]
    U, _ = torch.linalg.qr(torch.randn(m, k, generator=generator, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, k, generator=generator, dtype=torch.float64))
    return (U @ torch.diag(sigma.double()) @ V.mT).to(dtype)


def graded_spectrum(k, decades):
    return torch.logspace(0, -decades, k, dtype=torch.float64)


def assert_contract(A, result, contract, what=""):
    """Asserts that result = (U, S, V, ...) meets `contract` for A."""
    errors = svd_errors(A, *result[:3])
    assert errors.within(contract), f"{what}: {errors} exceeds {contract}"


def gaussian(*shape, device, dtype=torch.float32, seed=0):
    """A seeded standard normal matrix (drawn in float64 on the CPU, then converted)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)

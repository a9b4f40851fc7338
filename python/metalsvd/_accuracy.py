"""Accuracy of an SVD against LAPACK in float64, and the contract it is held to."""

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class Contract:
    """Largest accepted errors (docs/architecture.md, numerics contract)."""

    sigma: float  # max |s - s_ref| / s_max
    orthogonality: float  # max |Q^T Q - I| for U and V
    reconstruction: float  # ||A - U S V^T||_F / ||A||_F


FP32 = Contract(sigma=2e-6, orthogonality=1e-5, reconstruction=5e-6)
CONTRACTS = {
    torch.float32: FP32,
    torch.float64: Contract(sigma=1e-12, orthogonality=1e-12, reconstruction=1e-12),
    # 16-bit outputs are rounded to their type: errors at its precision.
    torch.float16: Contract(sigma=2e-3, orthogonality=4e-3, reconstruction=4e-3),
    torch.bfloat16: Contract(sigma=2e-2, orthogonality=3e-2, reconstruction=3e-2),
}


@dataclass(frozen=True)
class Errors:
    """None where there is nothing to measure (no vectors: the values alone)."""

    sigma: float
    u_orthogonality: Optional[float]
    v_orthogonality: Optional[float]
    reconstruction: Optional[float]
    sorted_nonnegative: bool

    def within(self, contract: Contract) -> bool:
        def at_most(value, limit):
            return value is None or value <= limit

        return (
            self.sorted_nonnegative
            and self.sigma <= contract.sigma
            and at_most(self.u_orthogonality, contract.orthogonality)
            and at_most(self.v_orthogonality, contract.orthogonality)
            and at_most(self.reconstruction, contract.reconstruction)
        )


def _orthogonality(Q: torch.Tensor) -> float:
    if Q.numel() == 0:
        return 0.0
    eye = torch.eye(Q.shape[-1], dtype=Q.dtype)
    return (Q.mT @ Q - eye).abs().amax().item()


def svd_errors(A, U, S, V) -> Errors:
    """Worst errors over a batch of (U, S, V) for A, against LAPACK float64 on the CPU of the
    same input values."""
    A, U, S, V = (x.detach().cpu().double() for x in (A, U, S, V))
    if A.numel() == 0:
        return Errors(0.0, 0.0, 0.0, 0.0, True)
    ref = torch.linalg.svdvals(A)
    tiny = torch.finfo(torch.float64).tiny
    s_max = ref[..., :1].clamp_min(tiny)
    sigma = ((S - ref).abs() / s_max).amax().item()
    residual = A - U @ torch.diag_embed(S) @ V.mT
    norm = torch.linalg.matrix_norm(A).clamp_min(tiny)
    reconstruction = (torch.linalg.matrix_norm(residual) / norm).amax().item()
    ordered = bool((S >= 0).all()) and bool((S[..., :-1] >= S[..., 1:]).all())
    return Errors(sigma, _orthogonality(U), _orthogonality(V), reconstruction, ordered)


def values_errors(A, S) -> Errors:
    """The error of the singular values S alone of A, against LAPACK float64 on the CPU."""
    A, S = (x.detach().cpu().double() for x in (A, S))
    if A.numel() == 0:
        return Errors(0.0, None, None, None, True)
    ref = torch.linalg.svdvals(A)
    s_max = ref[..., :1].clamp_min(torch.finfo(torch.float64).tiny)
    sigma = ((S - ref).abs() / s_max).amax().item()
    ordered = bool((S >= 0).all()) and bool((S[..., :-1] >= S[..., 1:]).all())
    return Errors(sigma, None, None, None, ordered)


def truncated_errors(A, U, S, V) -> Errors:
    """Errors of k singular triplets of A: sigma against the top k of LAPACK float64, and in
    place of the reconstruction, max |U^T A V - diag(S)| / sigma_max (Ritz triplets)."""
    A, U, S, V = (x.detach().cpu().double() for x in (A, U, S, V))
    k = S.shape[-1]
    ref = torch.linalg.svdvals(A)
    s_max = ref[..., :1].clamp_min(torch.finfo(torch.float64).tiny)
    sigma = ((S - ref[..., :k]).abs() / s_max).amax().item()
    ritz = ((U.mT @ A @ V - torch.diag_embed(S)).abs() / s_max.unsqueeze(-1)).amax().item()
    ordered = bool((S >= 0).all()) and bool((S[..., :-1] >= S[..., 1:]).all())
    return Errors(sigma, _orthogonality(U), _orthogonality(V), ritz, ordered)

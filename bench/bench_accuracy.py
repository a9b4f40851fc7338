"""Accuracy of an SVD against a float64 LAPACK reference.

All metrics are computed on the CPU in float64 from the implementation's outputs, for a
deterministic subset of at most MAX_CHECKED matrices of the batch (evenly spaced indices),
and the worst matrix is reported:
  sigma_err  max_i |s_i - s_ref_i| / s_ref_max
  u_orth     max |U^T U - I|
  v_orth     max |V^T V - I|
  recon      ||A - U diag(S) V^T||_F / ||A||_F
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MAX_CHECKED = 16
REFERENCE = ("torch.linalg.svdvals in float64 on the CPU (LAPACK) of the same input values; "
             f"metrics over an evenly spaced subset of at most {MAX_CHECKED} matrices per batch")


@dataclass
class Accuracy:
    """Worst-case accuracy metrics over the checked matrices."""

    sigma_err: float
    u_orth: float
    v_orth: float
    recon: float
    checked_matrices: int


def checked_indices(count: int) -> list[int]:
    """Evenly spaced, deterministic batch indices to check (all of them for small batches)."""
    if count <= MAX_CHECKED:
        return list(range(count))
    step = (count - 1) / (MAX_CHECKED - 1)
    return sorted({round(i * step) for i in range(MAX_CHECKED)})


def checked_subset(x: torch.Tensor, indices: list[int], core_dims: int) -> torch.Tensor:
    """The checked entries of a batch as CPU float64; `core_dims` is 2 for matrices, 1 for S."""
    flat = x.reshape(-1, *x.shape[x.dim() - core_dims:])
    return flat[indices].detach().to("cpu", torch.float64)


def reference_singular_values(a64: torch.Tensor) -> torch.Tensor:
    """Float64 LAPACK singular values of the checked matrices."""
    return torch.linalg.svdvals(a64)


def check_shapes(a: torch.Tensor, u: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> None:
    """Raise ValueError unless U, S, V have the thin-SVD shapes of `a`."""
    *batch, m, n = a.shape
    k = min(m, n)
    want = {"U": (*batch, m, k), "S": (*batch, k), "V": (*batch, n, k)}
    got = {"U": tuple(u.shape), "S": tuple(s.shape), "V": tuple(v.shape)}
    if any(tuple(want[key]) != got[key] for key in want):
        raise ValueError(f"unexpected output shapes {got}, expected {want}")


def orthogonality_error(q: torch.Tensor) -> float:
    """max |Q^T Q - I| over a batch of matrices with orthonormal columns."""
    eye = torch.eye(q.shape[-1], dtype=q.dtype)
    return (q.mT @ q - eye).abs().max().item()


def measure(a: torch.Tensor, u: torch.Tensor, s: torch.Tensor, v: torch.Tensor,
            s_ref: torch.Tensor, indices: list[int]) -> Accuracy:
    """Accuracy of (U, S, V) for input `a`, against reference values `s_ref` of `indices`."""
    check_shapes(a, u, s, v)
    a64, u64, v64 = (checked_subset(t, indices, 2) for t in (a, u, v))
    s64 = checked_subset(s, indices, 1)
    s_max = s_ref.amax(-1)
    s_max = torch.where(s_max > 0, s_max, torch.ones_like(s_max))
    sigma_err = ((s64 - s_ref).abs().amax(-1) / s_max).max().item()
    residual = a64 - (u64 * s64.unsqueeze(-2)) @ v64.mT
    a_norm = torch.linalg.matrix_norm(a64)
    a_norm = torch.where(a_norm > 0, a_norm, torch.ones_like(a_norm))
    recon = (torch.linalg.matrix_norm(residual) / a_norm).max().item()
    return Accuracy(
        sigma_err=sigma_err,
        u_orth=orthogonality_error(u64),
        v_orth=orthogonality_error(v64),
        recon=recon,
        checked_matrices=len(indices),
    )


def measure_values(s: torch.Tensor, s_ref: torch.Tensor, indices: list[int]) -> Accuracy:
    """Accuracy of S alone (the values suite): sigma_err; no vectors to check."""
    s64 = checked_subset(s, indices, 1)
    s_max = s_ref.amax(-1)
    s_max = torch.where(s_max > 0, s_max, torch.ones_like(s_max))
    sigma_err = ((s64 - s_ref).abs().amax(-1) / s_max).max().item()
    return Accuracy(sigma_err=sigma_err, u_orth=None, v_orth=None, recon=None,
                    checked_matrices=len(indices))


def truncated_reference(a: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k singular values of every matrix, float64 svdvals on a's own device (a full
    float64 SVD of 10000^2 on the CPU takes too long; cuSOLVER's float64 is accurate)."""
    return torch.linalg.svdvals(a.double())[..., :k].cpu()


def measure_truncated(a: torch.Tensor, u: torch.Tensor, s: torch.Tensor, v: torch.Tensor,
                      s_ref: torch.Tensor) -> Accuracy:
    """Accuracy of k triplets: sigma_err over the top k against `s_ref`; recon is the rank-k
    approximation error ||A - U S V^T||_F / ||A||_F (optimal: the tail of the spectrum).
    Computed in float64 on a's device: the matrices are too large for the CPU."""
    k = s_ref.shape[-1]
    if u.shape[-1] != k or s.shape[-1] != k or v.shape[-1] != k:
        raise ValueError(f"expected {k} triplets, got U {tuple(u.shape)}, S {tuple(s.shape)}")
    a64, u64, s64, v64 = (t.detach().double() for t in (a, u, s, v))
    ref = s_ref.to(a64.device)
    s_max = ref.amax(-1).clamp_min(torch.finfo(torch.float64).tiny)
    sigma_err = ((s64 - ref).abs().amax(-1) / s_max).max().item()
    residual = a64 - (u64 * s64.unsqueeze(-2)) @ v64.mT
    recon = (torch.linalg.matrix_norm(residual) / torch.linalg.matrix_norm(a64)).max().item()
    return Accuracy(sigma_err=sigma_err, u_orth=orthogonality_error(u64.cpu()),
                    v_orth=orthogonality_error(v64.cpu()), recon=recon,
                    checked_matrices=a.reshape(-1, *a.shape[-2:]).shape[0])

"""The full SVD: metalsvd.svd and metalsvd.svd_ex."""

from typing import NamedTuple

import torch

from ._devices import built_backends
from ._ops import ops

_SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


class SVDResult(NamedTuple):
    """``A = U @ diag(S) @ V.mT`` (V, not V^H), with S non-negative and in descending order.

    With ``full_matrices=True`` U and V are square; then ``A = U[..., :k] @ diag(S) @
    V[..., :k].mT`` with ``k = min(m, n)``.
    """

    U: torch.Tensor
    S: torch.Tensor
    V: torch.Tensor


class SVDExResult(NamedTuple):
    """:class:`SVDResult` plus ``info``, one int32 per matrix (see :func:`svd_ex`)."""

    U: torch.Tensor
    S: torch.Tensor
    V: torch.Tensor
    info: torch.Tensor


def _check_input(A, function):
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"{function}: expected a torch.Tensor, got {type(A).__name__}")
    if A.dim() < 2:
        raise ValueError(
            f"{function}: expected a matrix or a batch of matrices (at least 2 dimensions), "
            f"got a tensor of shape {tuple(A.shape)}"
        )
    if A.dtype not in _SUPPORTED_DTYPES:
        raise TypeError(
            f"{function}: expected a real floating-point matrix (float32, float64, float16 or "
            f"bfloat16), got {A.dtype}"
        )
    built = built_backends()
    if A.device.type not in built:
        raise NotImplementedError(
            f"{function}: this build of metalsvd has no {A.device.type} backend (built: "
            f"{', '.join(built)}); move the matrix to one of those devices"
        )


def _needs_autograd(A: torch.Tensor) -> bool:
    # Reverse mode, or forward mode (a dual tensor at the current level).
    if torch.is_grad_enabled() and A.requires_grad:
        return True
    return torch.autograd.forward_ad.unpack_dual(A).tangent is not None


_ALGORITHMS = ("auto", "jacobi", "blocked", "qr", "dc")


def _check_algorithm(algorithm, function):
    if algorithm not in _ALGORITHMS:
        raise ValueError(
            f"{function}: algorithm must be one of {', '.join(map(repr, _ALGORITHMS))}, "
            f"got {algorithm!r}"
        )


def _svd_ex(A: torch.Tensor, full_matrices: bool, algorithm: str):
    if not _needs_autograd(A):
        return ops.svd_ex(A, full_matrices, algorithm)
    # Imported on first use: it loads torch.compile's machinery.
    from ._autograd import svd_ex_differentiable

    return svd_ex_differentiable(A, full_matrices, algorithm)


def svd_ex(
    A: torch.Tensor, full_matrices: bool = False, *, algorithm: str = "auto"
) -> SVDExResult:
    """Like :func:`svd`, and also returns ``info`` without synchronising with the device.

    ``info[...]`` is 0 where the matrix converged, 1 where the Jacobi sweep limit was reached
    first or a divide-and-conquer root reached its iteration cap (the factors are still
    orthogonal, only less accurate), and 2 where the input held inf or nan (then S, U and V
    are nan for that matrix).
    """
    _check_input(A, "metalsvd.svd_ex")
    _check_algorithm(algorithm, "metalsvd.svd_ex")
    return SVDExResult(*_svd_ex(A, full_matrices, algorithm))


def svd(A: torch.Tensor, full_matrices: bool = False, *, algorithm: str = "auto") -> SVDResult:
    """Singular value decomposition ``A = U @ diag(S) @ V.mT`` of a matrix or a batch.

    Args:
        A: tensor of shape ``(*, m, n)``: float32, float16 or bfloat16 (computed in float32
            and returned in the input dtype), or float64 where the device has it (cpu, cuda).
            Any batch shape, any strides.
        full_matrices: if False (the default), ``U`` is ``(*, m, k)`` and ``V`` is
            ``(*, n, k)`` with ``k = min(m, n)``. If True, ``U`` is ``(*, m, m)`` and ``V``
            is ``(*, n, n)``: the extra columns complete an orthonormal basis.
        algorithm: ``"auto"`` (the default) lets the plan choose; ``"jacobi"`` forces the
            fused one-sided Jacobi kernel (the whole matrix in threadgroup memory: small
            matrices; ValueError beyond the device's limit), ``"blocked"`` the blocked
            one-sided Jacobi, ``"dc"`` Golub-Kahan bidiagonalisation and divide and conquer
            (LAPACK's gesdd), ``"qr"`` Householder QR then the SVD of R (for tall or wide
            matrices). ``"auto"`` picks the fused kernel when the matrix fits, QR for tall or
            wide matrices where that was measured faster, else ``"dc"``
            (docs/architecture.md says how and why). ``"dc"`` raises NotImplementedError
            where its kernels exceed the device's threadgroup memory.
            The Jacobi methods determine small singular values of column-graded matrices to
            high relative accuracy; ``"dc"`` to the usual normwise accuracy, much faster.

    Returns:
        ``SVDResult(U, S, V)``: S of shape ``(*, k)``, descending and non-negative; U and V
        with orthonormal columns, also where S has zeros. Note V, not V^H, as
        :func:`torch.svd` returns — but the second argument is ``full_matrices``, as in
        :func:`torch.linalg.svd`, not ``torch.svd``'s ``some`` (which means the opposite).

    Raises:
        TypeError for a non-tensor or a dtype other than the four above; ValueError for fewer
        than 2 dimensions or an unknown ``algorithm``; NotImplementedError for a device this
        build has no backend for (:func:`metalsvd.built_backends`).

    Differentiable: gradients, double gradients and forward-mode derivatives are PyTorch's
    own formulas for ``torch.linalg.svd`` (``svd_backward``), applied to these factors; as
    there, they are defined where the singular values are distinct and the result depends
    on the first ``min(m, n)`` columns of U and V only.

    Runs entirely on A's device, on the current stream, without synchronising. Matrices
    with inf or nan give nan factors (:func:`svd_ex` reports which, and matrices where the
    iteration limit was reached, which this function does not). Any size runs; the
    workspace of the blocked and QR paths comes from PyTorch's caching allocator.
    """
    _check_input(A, "metalsvd.svd")
    _check_algorithm(algorithm, "metalsvd.svd")
    U, S, V, _ = _svd_ex(A, full_matrices, algorithm)
    return SVDResult(U, S, V)

"""The singular values alone: metalsvd.svdvals and metalsvd.svdvals_ex."""

from typing import NamedTuple

import torch

from ._ops import ops
from ._svd import _check_algorithm, _check_input, _needs_autograd, _svd_ex


class SVDValsExResult(NamedTuple):
    """The singular values S, descending, and ``info``, one int32 per matrix (see
    :func:`svd_ex`)."""

    S: torch.Tensor
    info: torch.Tensor


def svdvals_ex(A: torch.Tensor, *, algorithm: str = "auto") -> SVDValsExResult:
    """Like :func:`svdvals`, and also returns ``info`` (as :func:`svd_ex` does) without
    synchronising with the device: 2 where the matrix held inf or nan (its S is nan)."""
    _check_input(A, "metalsvd.svdvals_ex")
    _check_algorithm(algorithm, "metalsvd.svdvals_ex")
    if _needs_autograd(A):
        _, S, _, info = _svd_ex(A, False, algorithm)
        return SVDValsExResult(S, info)
    return SVDValsExResult(*ops.svdvals_ex(A, algorithm))


def svdvals(A: torch.Tensor, *, algorithm: str = "auto") -> torch.Tensor:
    """The singular values of a matrix or a batch, descending: ``torch.linalg.svdvals``.

    Args:
        A: tensor of shape ``(*, m, n)``, dtypes and devices as :func:`svd` takes them.
        algorithm: as :func:`svd`'s. The plan is the same, but nothing of U or V is formed
            where the algorithm allows it: after the bidiagonalisation (``"dc"``) the values
            of the bidiagonal come from Sturm counts (multisection, each value to high relative
            accuracy) instead of the divide and conquer, and Q and P are never formed; the
            Jacobi methods rotate their vectors anyway.

    Returns:
        S of shape ``(*, min(m, n))``, non-negative and descending, in A's dtype.

    Differentiable: where A needs a gradient the values come from :func:`svd`, whose U and V
    the derivative needs (as ``torch.linalg.svdvals`` does). Raises as :func:`svd` does.
    """
    _check_input(A, "metalsvd.svdvals")
    _check_algorithm(algorithm, "metalsvd.svdvals")
    return svdvals_ex(A, algorithm=algorithm).S

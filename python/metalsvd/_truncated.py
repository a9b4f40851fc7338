"""Truncated SVD: metalsvd.randomized_svd(_ex) and metalsvd.lanczos_svd(_ex)."""

from typing import NamedTuple, Optional

import torch

from ._ops import ops
from ._svd import SVDResult, _check_input

# Lanczos' start vector comes from this seed when no generator is given: reproducible results.
_LANCZOS_DEFAULT_SEED = 0


class RandomizedResult(NamedTuple):
    """:class:`SVDResult` plus a status per matrix (see :func:`randomized_svd_ex`)."""

    U: torch.Tensor
    S: torch.Tensor
    V: torch.Tensor
    info: torch.Tensor


class _NotDifferentiable(torch.autograd.Function):
    """Marks a truncated SVD's outputs as functions of A with no derivative: backward through
    them raises, as PyTorch does for an operation without a derivative formula, instead of
    leaving A without a gradient. The exact derivative of a top-k SVD depends on the singular
    values left out, which these methods never compute."""

    @staticmethod
    def forward(ctx, function, A, *outputs):
        ctx.function = function
        # Copies: an output of a Function that is one of its inputs would alias it.
        outputs = tuple(output.clone() for output in outputs)
        ctx.mark_non_differentiable(outputs[-1])  # info
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            f"{ctx.function} is not differentiable; use metalsvd.svd (differentiable) and "
            "keep its first k triplets, or detach the input"
        )


def _outputs_of(function, A, outputs):
    # Outputs computed from a detached A; recorded as depending on A when autograd watches it.
    if torch.is_grad_enabled() and A.requires_grad:
        return _NotDifferentiable.apply(function, A, *outputs)
    return outputs


class LanczosResult(NamedTuple):
    """:class:`SVDResult` plus the residual norms and a convergence status per matrix."""

    U: torch.Tensor
    S: torch.Tensor
    V: torch.Tensor
    residuals: torch.Tensor
    info: torch.Tensor


def _check_int(value, name, function, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{function}: {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{function}: {name} must be >= {minimum}, got {value}")


def _check_truncated(A, k, n_iter, function):
    _check_input(A, function)
    _check_int(k, "k", function, 1)
    _check_int(n_iter, "n_iter", function, 0)
    min_mn = min(A.shape[-2], A.shape[-1])
    if k >= min_mn:
        raise ValueError(
            f"{function}: k must be less than min(m, n) = {min_mn}, got {k} "
            "(for all singular values use metalsvd.svd)"
        )


def _check_generator(generator, A, function):
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{function}: generator must be a torch.Generator, got {type(generator).__name__}"
        )
    if generator.device.type != A.device.type:
        raise ValueError(
            f"{function}: the generator is on {generator.device.type}, the matrix on "
            f"{A.device.type}; the random draws happen on the matrix's device"
        )


def randomized_svd(
    A: torch.Tensor,
    k: int,
    n_iter: int = 2,
    oversample: int = 10,
    generator: Optional[torch.Generator] = None,
) -> SVDResult:
    """The ``k`` largest singular triplets by randomized SVD (Halko, Martinsson, Tropp).

    ``A @ Omega`` for a Gaussian ``Omega`` with ``k + oversample`` columns spans the dominant
    column space of A; ``n_iter`` power iterations ``(A A^T)^q`` sharpen it, each product
    re-orthonormalised by a Householder QR on the device; then the small projection
    ``Q^T A`` gets an exact SVD (metalsvd's Jacobi). Same algorithm and same test matrix
    layout as :func:`torch.svd_lowrank` with ``q = k + oversample`` and ``niter = n_iter``.

    Prefer it when the spectrum decays fast (the error is governed by
    ``sigma_{k+oversample+1} / sigma_k`` raised to ``2 n_iter + 1``) and for throughput:
    a fixed amount of GEMM work, no convergence test, no host synchronisation. Where the
    spectrum decays slowly and the top-k must be accurate, use :func:`lanczos_svd`.

    Args:
        A: ``(*, m, n)``, like :func:`metalsvd.svd` (float32, float64, float16, bfloat16;
            16-bit types computed in float32). Wide matrices go through the transpose.
        k: singular triplets wanted, ``1 <= k < min(m, n)``.
        n_iter: power iterations, ``>= 0``.
        oversample: extra sketch columns, ``>= 0`` (the sketch has at most ``min(m, n)``).
        generator: draws the Gaussian test matrix on A's device (``torch.randn``); without
            it the default generator does. A seeded generator repeats the result.

    Returns:
        ``SVDResult(U, S, V)``: U ``(*, m, k)``, S ``(*, k)`` descending, V ``(*, n, k)``
        (V, not V^H), U and V with orthonormal columns. A matrix with inf or nan gives nan
        factors; :func:`randomized_svd_ex` also says which.

    Not differentiable: backward through the results raises (use :func:`metalsvd.svd`).
    """
    U, S, V, _ = _randomized_svd_ex(A, k, n_iter, oversample, generator,
                                    "metalsvd.randomized_svd")
    return SVDResult(U, S, V)


def randomized_svd_ex(
    A: torch.Tensor,
    k: int,
    n_iter: int = 2,
    oversample: int = 10,
    generator: Optional[torch.Generator] = None,
) -> RandomizedResult:
    """Like :func:`randomized_svd`, and also returns ``info`` without synchronising with the
    device: one int32 per matrix, 0 where the input was finite, 2 where it held inf or nan
    (then its U, S and V are nan)."""
    return _randomized_svd_ex(A, k, n_iter, oversample, generator, "metalsvd.randomized_svd_ex")


# The _ex functions' bodies, with the name of the function the user called for messages.
def _randomized_svd_ex(A, k, n_iter, oversample, generator, function) -> RandomizedResult:
    _check_truncated(A, k, n_iter, function)
    _check_int(oversample, "oversample", function, 0)
    _check_generator(generator, A, function)
    outputs = ops.randomized_svd_ex(A.detach(), k, n_iter, oversample, generator)
    return RandomizedResult(*_outputs_of(function, A, outputs))


def lanczos_svd_ex(
    A: torch.Tensor,
    k: int,
    n_iter: int = 30,
    tol: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
) -> LanczosResult:
    """Like :func:`lanczos_svd`, and also returns ``residuals`` and ``info``.

    ``residuals[..., i]`` is ``||A^T u_i - s_i v_i||`` (``A v_i = s_i u_i`` holds to rounding
    by construction); ``info`` is 0 where every wanted triplet met ``tol``, 1 where
    ``n_iter`` restarts ran out first (the triplets are still the best found), 2 where the
    input held inf or nan (then its U, S and V are nan).
    """
    return _lanczos_svd_ex(A, k, n_iter, tol, generator, "metalsvd.lanczos_svd_ex")


def _lanczos_svd_ex(A, k, n_iter, tol, generator, function) -> LanczosResult:
    _check_truncated(A, k, n_iter, function)
    if tol is not None:
        if isinstance(tol, bool) or not isinstance(tol, (int, float)):
            raise TypeError(f"{function}: tol must be a float, got {type(tol).__name__}")
        if not 0 < tol < 1:
            raise ValueError(f"{function}: tol must be in (0, 1), got {tol}")
        tol = float(tol)
    _check_generator(generator, A, function)
    if generator is None:
        generator = torch.Generator(device=A.device)
        generator.manual_seed(_LANCZOS_DEFAULT_SEED)
    outputs = ops.lanczos_svd_ex(A.detach(), k, n_iter, tol, generator)
    return LanczosResult(*_outputs_of(function, A, outputs))


def lanczos_svd(
    A: torch.Tensor,
    k: int,
    n_iter: int = 30,
    tol: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
) -> SVDResult:
    """The ``k`` largest singular triplets by Golub-Kahan-Lanczos with thick restarts.

    Builds an orthonormal Krylov basis ``U``, ``V`` with ``A V = U B`` (full
    reorthogonalisation: classical Gram-Schmidt twice, as GEMMs), takes the SVD of the small
    projection ``B`` on the device with metalsvd's Jacobi, and restarts with the best Ritz
    vectors and the residual (Baglama and Reichel's augmented restart, as irlba) until the
    residual of every wanted triplet is at most ``tol * S[0]``.

    Prefer it when the spectrum decays slowly or the top-k must be accurate: it converges to
    ``tol`` whatever the decay, where :func:`randomized_svd`'s error depends on it. For fast
    decay and raw throughput, :func:`randomized_svd` does less work.

    Host synchronisation: deciding whether to restart reads one status per matrix on the
    host, so there is **one host synchronisation per restart** (none when ``n_iter == 0``).
    Everything else, convergence tests included, runs on the device; matrices of a batch
    that converged early stop changing while the others continue.

    Args:
        A: ``(*, m, n)``, like :func:`metalsvd.svd`. Wide matrices go through the transpose.
        k: singular triplets wanted, ``1 <= k < min(m, n)``.
        n_iter: maximum number of restarts, ``>= 0`` (``n_iter + 1`` Lanczos cycles).
        tol: relative residual tolerance in (0, 1). Default: ``sqrt(eps)`` of the compute
            type (3.5e-4 for float32 and 16-bit inputs, 1.5e-8 for float64); singular values
            are then accurate to about ``tol**2 * S[0]``.
        generator: draws the start vector (and the vectors that replace an exhausted Krylov
            space) on A's device; default: a generator seeded with 0, so results repeat.

    Returns:
        ``SVDResult(U, S, V)`` as :func:`randomized_svd`; :func:`lanczos_svd_ex` adds the
        residual norms and ``info``. A matrix with inf or nan gives nan factors.

    Not differentiable: backward through the results raises (use :func:`metalsvd.svd`).
    """
    U, S, V, _, _ = _lanczos_svd_ex(A, k, n_iter, tol, generator, "metalsvd.lanczos_svd")
    return SVDResult(U, S, V)

"""aten::_linalg_svd computed by metalsvd, with the semantics of PyTorch's own kernel.

These are the kernels :func:`metalsvd.patch_torch` registers. They reproduce what PyTorch's
structured kernel does around the factorisation: the argument checks of its meta function,
the output shapes and strides that function sets, the early return for empty inputs, the
``driver=`` check and the error for matrices holding nan; the factorisation itself is
``metalsvd::svd_ex``.
"""

import warnings
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from ._ops import ops

# The drivers torch.linalg.svd accepts for cuSOLVER; metalsvd accepts the names and ignores
# them (its plan picks the algorithm).
CUSOLVER_DRIVERS = ("gesvd", "gesvdj", "gesvda")

# metalsvd's info code for a matrix holding inf or nan (see metalsvd.svd_ex).
_INFO_NON_FINITE = 2


def _contiguous_strides(shape: Sequence[int]) -> List[int]:
    # c10::contiguous_strides: sizes of 0 count as 1.
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * max(shape[i + 1], 1)
    return strides


def _batched_matrix_strides(shape: Sequence[int], column_major: bool) -> List[int]:
    # at::native::batched_matrix_contiguous_strides: a C-contiguous batch of matrices, each
    # row-major or column-major.
    strides = _contiguous_strides(shape)
    if column_major and len(shape) >= 2:
        strides[-1] = max(shape[-2], 1)
        strides[-2] = 1
    return strides


def _uses_cusolver(device: torch.device) -> bool:
    # at::native::svd_uses_cusolver: CUDA with cuSOLVER preferred over MAGMA.
    if device.type != "cuda":
        return False
    magma = getattr(torch._C, "_LinalgBackend", None)
    if magma is None:
        return True
    return torch.backends.cuda.preferred_linalg_library() != magma.Magma


def output_layout(A: torch.Tensor, full_matrices: bool, compute_uv: bool):
    """Shapes and strides of (U, S, Vh), as PyTorch's meta function for _linalg_svd sets them.

    U is a batch of column-major matrices; Vh is column-major too, except where PyTorch's
    CUDA path uses cuSOLVER, which computes V, so Vh is row-major there. S is contiguous.
    Without ``compute_uv``, U and Vh are empty of shape (0,).
    """
    *batch, m, n = A.shape
    k = min(m, n)
    S_shape = [*batch, k]
    S_layout = (S_shape, _contiguous_strides(S_shape))
    if not compute_uv:
        return ([0], [1]), S_layout, ([0], [1])
    U_shape = [*batch, m, m if full_matrices else k]
    Vh_shape = [*batch, n if full_matrices else k, n]
    U_layout = (U_shape, _batched_matrix_strides(U_shape, column_major=True))
    Vh_column_major = not _uses_cusolver(A.device)
    Vh_layout = (Vh_shape, _batched_matrix_strides(Vh_shape, column_major=Vh_column_major))
    return U_layout, S_layout, Vh_layout


def _with_layout(t: torch.Tensor, shape, strides) -> torch.Tensor:
    """t itself if it already has these strides, else a copy with them."""
    if list(t.stride()) == list(strides):
        return t
    return torch.empty_strided(shape, strides, dtype=t.dtype, device=t.device).copy_(t)


def _check_input(A: torch.Tensor) -> None:
    # PyTorch's meta function checks the input; for a bad one, run it to raise its own error.
    if A.dim() >= 2 and (A.is_floating_point() or A.is_complex()):
        return
    meta = torch.empty_strided(A.shape, A.stride(), dtype=A.dtype, device="meta")
    torch.ops.aten._linalg_svd.default(meta)
    raise RuntimeError(f"linalg.svd: expected a floating-point matrix, got {A.dtype}")


def _check_driver(A: torch.Tensor, driver: Optional[str]) -> None:
    if driver is None:
        return
    if not _uses_cusolver(A.device):
        raise RuntimeError(
            "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs "
            "with cuSOLVER backend."
        )
    if driver not in CUSOLVER_DRIVERS:
        raise RuntimeError(
            f"torch.linalg.svd: unknown svd driver {driver} in svd_cusolver computation. "
            f"Available drivers are gesvd, gesvdj, and gesvda."
        )


def _raise_for_nan(A: torch.Tensor, info: torch.Tensor) -> None:
    """Raise as LAPACK does where a matrix holds nan; inf alone gives nan factors there too."""
    # One synchronisation, as PyTorch's own kernel makes to check its info.
    if not bool((info == _INFO_NON_FINITE).any()):
        return
    has_nan = torch.isnan(A).flatten(-2).any(-1).flatten()
    if not bool(has_nan.any()):
        return
    where = ""
    if A.dim() > 2:
        where = f": (Batch element {int(has_nan.nonzero()[0, 0])})"
    raise torch.linalg.LinAlgError(
        f"linalg.svd{where}: The algorithm failed to converge because the input matrix "
        "contained non-finite values."
    )


def _empty_input_result(A, U_layout, S_layout, Vh_layout, full_matrices, compute_uv):
    # As PyTorch: the SVD of an empty matrix; with full_matrices, identity U or Vh.
    U, S, Vh = (
        torch.empty_strided(*layout, dtype=A.dtype, device=A.device)
        for layout in (U_layout, S_layout, Vh_layout)
    )
    if compute_uv and full_matrices:
        for Q in (U, Vh):
            if Q.numel():
                Q.zero_()
                Q.diagonal(0, -2, -1).fill_(1)
    return U, S, Vh


Fallback = Optional[Callable[..., Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]


def linalg_svd(
    A: torch.Tensor,
    full_matrices: bool = False,
    compute_uv: bool = True,
    *,
    driver: Optional[str] = None,
    fallback: Fallback = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """aten::_linalg_svd through metalsvd: returns (U, S, Vh) as PyTorch's kernel does.

    ``driver`` is checked as PyTorch checks it (only CUDA takes one, and only cuSOLVER's
    names) and then ignored: metalsvd's plan chooses the algorithm. Complex matrices, which
    metalsvd does not factor, go to ``fallback`` (the kernel this one replaced) where there is
    one. Raises torch.linalg.LinAlgError where a matrix holds nan, as PyTorch does.
    """
    _check_input(A)
    U_layout, S_layout, Vh_layout = output_layout(A, full_matrices, compute_uv)
    if A.numel() == 0:
        return _empty_input_result(A, U_layout, S_layout, Vh_layout, full_matrices, compute_uv)
    _check_driver(A, driver)
    if A.is_complex():
        if fallback is None:
            raise NotImplementedError(
                "metalsvd.patch_torch: metalsvd does not factor complex matrices, and this "
                f"version of PyTorch ({torch.__version__}) gives no handle on the kernel it "
                "replaced; call metalsvd.unpatch_torch() around complex SVDs"
            )
        return fallback(A, full_matrices, compute_uv, driver=driver)
    if not compute_uv:  # svdvals and the like: the values alone, nothing of U or V formed
        S, info = ops.svdvals_ex(A)
        _raise_for_nan(A, info)
        return A.new_empty(0), _with_layout(S, *S_layout), A.new_empty(0)
    U, S, V, info = ops.svd_ex(A, full_matrices)
    _raise_for_nan(A, info)
    S = _with_layout(S, *S_layout)
    return _with_layout(U, *U_layout), S, _with_layout(V.mT, *Vh_layout)


def _copy_to_out(result: torch.Tensor, out: torch.Tensor) -> None:
    # What a structured kernel's set_output does with an out= tensor: same dtype and device
    # required; resized (with PyTorch's warning if it held elements) and then given the meta
    # function's strides; otherwise written in place with the strides it has.
    if out.dtype != result.dtype:
        raise RuntimeError(
            f"Expected out tensor to have dtype {result.dtype}, but got {out.dtype} instead"
        )
    if out.device != result.device:
        raise RuntimeError(
            f"Expected out tensor to have device {result.device}, but got {out.device} instead"
        )
    if out.shape != result.shape:
        if out.numel() != 0:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, which does not match the required output shape "
                f"{list(result.shape)}. This behavior is deprecated, and in a future PyTorch "
                "release outputs will not be resized unless they have zero elements. You can "
                "explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                "with t.resize_(0).",
                UserWarning,
            )
        out.resize_(result.shape)
        out.as_strided_(result.shape, result.stride())
    out.copy_(result)


def linalg_svd_out(
    A: torch.Tensor,
    full_matrices: bool = False,
    compute_uv: bool = True,
    *,
    driver: Optional[str] = None,
    U: torch.Tensor,
    S: torch.Tensor,
    Vh: torch.Tensor,
    fallback: Fallback = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """aten::_linalg_svd.U (the out= overload) through metalsvd; see :func:`linalg_svd`."""
    result = linalg_svd(A, full_matrices, compute_uv, driver=driver, fallback=fallback)
    for value, out in zip(result, (U, S, Vh)):
        _copy_to_out(value, out)
    return U, S, Vh

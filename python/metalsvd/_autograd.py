"""Gradients of metalsvd.svd: PyTorch's own SVD derivative, with metalsvd's factors.

PyTorch defines the derivatives of the SVD once, on ``aten::_linalg_svd``: its autograd kernel
saves the outputs (U, S, Vh) and gives ``svd_backward`` for reverse mode and
``linalg_svd_jvp`` for forward mode, both differentiable again. Here ``_linalg_svd`` is called
under a dispatch mode that answers that one call with metalsvd's factorisation. A dispatch
mode sits below the Autograd key, so PyTorch's autograd kernel records its usual node around
our outputs: the same formulas, double backward and forward-mode AD included, without a
global registration (the mode belongs to this call on this thread).
"""

import importlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ._ops import ops


class _FactorOnMetalsvd(TorchDispatchMode):
    """Answers aten::_linalg_svd with metalsvd::svd_ex; keeps its info. Other ops pass."""

    def __init__(self, algorithm: str):
        super().__init__()
        self.algorithm = algorithm
        self.info = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._linalg_svd.default:
            A = args[0]
            full_matrices = args[1] if len(args) > 1 else kwargs.get("full_matrices", False)
            U, S, V, self.info = ops.svd_ex(A, full_matrices, self.algorithm)
            return U, S, V.mT
        return func(*args, **kwargs)


def _svd_ex_differentiable(A: torch.Tensor, full_matrices: bool, algorithm: str = "auto"):
    mode = _FactorOnMetalsvd(algorithm)
    with mode:
        U, S, Vh = torch.ops.aten._linalg_svd.default(A, full_matrices, True)
    return U, S, Vh.mT, mode.info


def _dynamo_disabled(fn):
    # torch.compile cannot trace a dispatch mode entered inside the compiled region: run this
    # part eagerly there (a graph break), compile the rest.
    disable = getattr(getattr(torch, "compiler", None), "disable", None)
    if disable is None:  # PyTorch before 2.2
        disable = importlib.import_module("torch._dynamo").disable
    return disable(fn)


svd_ex_differentiable = _dynamo_disabled(_svd_ex_differentiable)
svd_ex_differentiable.__doc__ = """``metalsvd::svd_ex`` with PyTorch's SVD derivatives.

Returns (U, S, V, info) as ``svd_ex`` does; U, S and V carry the autograd history of
``aten::_linalg_svd`` (so ``svd_backward``), info none.
"""

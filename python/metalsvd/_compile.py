"""metalsvd::svd_ex and metalsvd::svdvals_ex under torch.compile and torch.func.vmap.

torch.compile traces with fake tensors, which need the operator's output shapes without
running it: a fake ("abstract") implementation. torch.func.vmap needs a batching rule, or it
falls back to a slow loop with a warning; the operator is batched already, so the rule moves
the vmapped dimension to the front. Both are registered through the API each PyTorch version
has: ``register_fake`` / ``register_vmap`` (2.4+), ``impl_abstract`` (2.2, 2.3), a Meta
kernel (2.1); before 2.4 there is no vmap rule, and vmap loops over the batch.
"""

import torch

from ._ops import ops



def _svd_ex_fake(A, full_matrices=False, algorithm="auto"):
    *batch, m, n = A.shape
    k = torch.sym_min(m, n) if hasattr(torch, "sym_min") else min(m, n)
    U = A.new_empty((*batch, m, m if full_matrices else k))
    S = A.new_empty((*batch, k))
    V = A.new_empty((*batch, n, n if full_matrices else k))
    info = A.new_empty(batch, dtype=torch.int32)
    return U, S, V, info


def _svd_ex_vmap(info, in_dims, A, full_matrices=False, algorithm="auto"):
    A_dim = in_dims[0]
    if A_dim is None:
        return ops.svd_ex(A, full_matrices, algorithm), (None, None, None, None)
    return ops.svd_ex(A.movedim(A_dim, 0), full_matrices, algorithm), (0, 0, 0, 0)


def _svdvals_ex_fake(A, algorithm="auto"):
    *batch, m, n = A.shape
    k = torch.sym_min(m, n) if hasattr(torch, "sym_min") else min(m, n)
    return A.new_empty((*batch, k)), A.new_empty(batch, dtype=torch.int32)


def _svdvals_ex_vmap(info, in_dims, A, algorithm="auto"):
    A_dim = in_dims[0]
    if A_dim is None:
        return ops.svdvals_ex(A, algorithm), (None, None)
    return ops.svdvals_ex(A.movedim(A_dim, 0), algorithm), (0, 0)


_libraries = []  # registrations that must live as long as the module


def _register(name, fake, vmap) -> None:
    op = f"metalsvd::{name}"
    library = torch.library
    # A Meta kernel registered by the extension itself would serve fake tensors already.
    if not torch._C._dispatch_has_kernel_for_dispatch_key(op, "Meta"):
        register_fake = getattr(library, "register_fake", None) or getattr(
            library, "impl_abstract", None
        )
        if register_fake is not None:
            register_fake(op)(fake)
        else:  # PyTorch 2.1: fake tensors run an operator's Meta kernel
            meta = torch.library.Library("metalsvd", "IMPL", "Meta")
            meta.impl(name, fake)
            _libraries.append(meta)
    register_vmap = getattr(library, "register_vmap", None)
    if register_vmap is not None:
        register_vmap(op)(vmap)


_register("svd_ex", _svd_ex_fake, _svd_ex_vmap)
_register("svdvals_ex", _svdvals_ex_fake, _svdvals_ex_vmap)

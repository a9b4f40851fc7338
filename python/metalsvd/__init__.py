"""metalsvd: GPU singular value decomposition for PyTorch.

One set of kernels, written once, runs on Apple GPUs through Metal, on NVIDIA GPUs through
CUDA, and on the CPU through a threadgroup emulator that exists to test those kernels.

>>> import torch, metalsvd
>>> A = torch.randn(64, 32, 32)
>>> U, S, V = metalsvd.svd(A)
>>> torch.allclose(U @ torch.diag_embed(S) @ V.mT, A, atol=1e-4)
True
"""

from ._svd import SVDExResult, SVDResult, svd, svd_ex
from ._svdvals import SVDValsExResult, svdvals, svdvals_ex
from ._truncated import (
    LanczosResult,
    RandomizedResult,
    lanczos_svd,
    lanczos_svd_ex,
    randomized_svd,
    randomized_svd_ex,
)
from ._devices import best_device, built_backends
from ._emulator import emulator_options, set_emulator_options
from . import _compile  # noqa: F401  (fake and vmap registrations of the operator)
from ._patch import patch_torch, patched, patched_devices, unpatch_torch

__version__ = "0.1.0"

__all__ = [
    "SVDResult",
    "SVDExResult",
    "svd",
    "svd_ex",
    "svdvals",
    "svdvals_ex",
    "SVDValsExResult",
    "randomized_svd",
    "randomized_svd_ex",
    "RandomizedResult",
    "lanczos_svd",
    "lanczos_svd_ex",
    "LanczosResult",
    "best_device",
    "built_backends",
    "emulator_options",
    "set_emulator_options",
    "patch_torch",
    "unpatch_torch",
    "patched",
    "patched_devices",
    "__version__",
]

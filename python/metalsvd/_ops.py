"""Loads the compiled operators into torch.ops.metalsvd."""

import torch

from . import _C  # noqa: F401  (importing registers the operators)

ops = torch.ops.metalsvd

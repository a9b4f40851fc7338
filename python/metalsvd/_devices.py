"""Which device metalsvd runs best on here."""

from typing import List

import torch

from ._ops import ops


# Asked once: it cannot change, and an operator call in metalsvd.svd's input check would break
# torch.compile's graph.
_BUILT_BACKENDS = tuple(ops.backends())


def built_backends() -> List[str]:
    """Device types this build of metalsvd has a backend for ("cpu" always)."""
    return list(_BUILT_BACKENDS)


def best_device() -> torch.device:
    """The best device present that this build supports: mps (Apple GPU), else cuda, else cpu
    (the threadgroup emulator)."""
    built = built_backends()
    mps = getattr(torch.backends, "mps", None)
    if "mps" in built and mps is not None and mps.is_available():
        return torch.device("mps")
    if "cuda" in built and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()

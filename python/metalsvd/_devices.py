"""Which device metalsvd runs best on here."""

import torch


def best_device() -> torch.device:
    """mps (Apple GPU) if present, else cuda, else cpu (the threadgroup emulator)."""
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()

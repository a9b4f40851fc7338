"""What a benchmark run ran on: date, host, device, library versions, metalsvd commit."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
from pathlib import Path

import numpy
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def utc_now() -> dt.datetime:
    """The current time in UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def device_name(device: torch.device) -> str:
    """The GPU's name (torch.cuda.get_device_name) or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def slug(text: str, limit: int = 40) -> str:
    """File-name-safe, lower-case form of a name."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:limit].rstrip("-") or "unknown"


def device_slug(device: torch.device) -> str:
    """Slug for result file names: the GPU's name, or 'cpu-' and the CPU's model."""
    name = device_name(device)
    if device.type == "cuda":
        return slug(name)
    return "cpu-" + slug(re.sub(r"\((r|tm)\)|\bcpu\b|@.*$", " ", name, flags=re.IGNORECASE))


def git(*args: str) -> str | None:
    """Output of a read-only git command in the repository, or None if git fails."""
    try:
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(REPO_ROOT), *args],
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_state(commit: str | None = None) -> dict[str, object]:
    """The checkout's commit and whether tracked files differ from it.

    `commit` overrides what git says, for copies of the tree without .git (a lent GPU
    machine): 'unknown' when neither is known; git_dirty is None when git cannot tell.
    """
    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    # A given commit that is not git's HEAD (a copied tree whose .git is older): git's status
    # compares against the wrong commit and says nothing about this one.
    if status is not None and commit and not (head or "").startswith(commit):
        status = None
    return {"git_commit": commit or head or "unknown",
            "git_dirty": None if status is None else bool(status)}


def host_info() -> dict[str, object]:
    """The machine, not the accelerator."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def torch_settings(device: torch.device) -> dict[str, object]:
    """Torch switches that change SVD speed or accuracy."""
    settings: dict[str, object] = {
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    if device.type == "cuda":
        settings["cuda_matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
        library = torch.backends.cuda.preferred_linalg_library()
        settings["preferred_linalg_library"] = getattr(library, "name", str(library))
    return settings


def environment(device: torch.device, commit: str | None = None) -> dict[str, object]:
    """Everything about the run's environment that goes into the result file."""
    return {
        "date": utc_now().isoformat().replace("+00:00", "Z"),
        "host": host_info(),
        "device": device.type,
        "device_name": device_name(device),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "numpy": numpy.__version__,
        },
        "torch_settings": torch_settings(device),
        "metalsvd": git_state(commit),
    }

"""The SVD implementations the benchmark compares, behind one interface.

Each implementation is an `Impl`: `prepare` turns the torch inputs into its own arrays once,
before timing (DLPack where possible); `run` is the timed call; `to_usv` turns its outputs
into torch tensors (U, S, V) with V, not V^H, for the accuracy check (U and V None for the
values suite's implementations, which return S alone). Implementations that
cannot be loaded are `Unavailable`, so the benchmark still writes a row for them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from bench_env import REPO_ROOT
from bench_tables import METALSVD_NAME, METALSVD_TRUNCATED_NAME, METALSVD_VALUES_NAME
from bench_timing import Timer, make_cupy_timer, make_jax_timer, time_cpu, time_torch_cuda

CUDA_DRIVERS = (None, "gesvd", "gesvdj", "gesvda")
LOWRANK_NITER = 2  # torch.svd_lowrank's default number of power iterations

USV = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _no_cleanup() -> None:
    """Default cleanup: nothing to release."""


def _as_is(xs: list[torch.Tensor]) -> tuple[list[Any], str]:
    """Default prepare: the implementation takes torch tensors directly."""
    return xs, ""


@dataclass
class Impl:
    """One SVD implementation, ready to time."""

    name: str
    run: Callable[[Any], Any]
    to_usv: Callable[[Any], USV]
    timer: Timer
    prepare: Callable[[list[torch.Tensor]], tuple[list[Any], str]] = _as_is
    cleanup: Callable[[], None] = _no_cleanup
    notes: str = ""
    takes_half: bool = False  # False: half/bfloat16 inputs are cast to float32 before timing


@dataclass
class Unavailable:
    """An implementation that could not be loaded, and why."""

    name: str
    reason: str


@dataclass
class Discovery:
    """The implementations found, and versions of the libraries that provide them."""

    impls: list[Impl | Unavailable] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    metalsvd_path: str | None = None


def describe_error(exc: BaseException, limit: int = 400) -> str:
    """One-line 'Type: message' for an exception, trimmed for a table row."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def import_metalsvd() -> Any:
    """Import metalsvd, installed or from this checkout's python/ folder."""
    try:
        return importlib.import_module("metalsvd")
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT / "python"))
        return importlib.import_module("metalsvd")


def metalsvd_version(module: Any) -> str:
    """metalsvd's __version__, else its installed distribution's version, else 'unknown'."""
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version("metalsvd")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def metalsvd_impl(timer: Timer, found: Discovery) -> Impl | Unavailable:
    """metalsvd.svd(A, full_matrices=False), which returns (U, S, V) like torch.svd."""
    try:
        module = import_metalsvd()
    except Exception as exc:  # an ImportError, or a broken extension raising anything
        return Unavailable(METALSVD_NAME, describe_error(exc))
    found.metalsvd_path = getattr(module, "__file__", None)
    found.versions["metalsvd"] = metalsvd_version(module)
    if not callable(getattr(module, "svd", None)):
        where = found.metalsvd_path or "a namespace package (not built?)"
        return Unavailable(METALSVD_NAME, f"module at {where} has no svd()")
    return Impl(
        name=METALSVD_NAME,
        run=lambda a: module.svd(a, full_matrices=False),
        to_usv=lambda out: tuple(out),
        timer=timer,
        takes_half=True,
    )


def torch_svd_impl(driver: str | None, device: torch.device, timer: Timer) -> Impl:
    """torch.linalg.svd with one cuSOLVER driver on CUDA, or LAPACK on the CPU."""
    if device.type == "cpu":
        name, notes = "torch.linalg.svd", "LAPACK"
    else:
        name = f"torch.linalg.svd[{driver or 'default'}]"
        notes = "driver=None: PyTorch's own choice" if driver is None else f"driver={driver}"
    return Impl(
        name=name,
        run=lambda a: torch.linalg.svd(a, full_matrices=False, driver=driver),
        to_usv=lambda out: (out[0], out[1], out[2].mH),
        timer=timer,
        notes=notes,
    )


def torch_lowrank_impl(timer: Timer) -> Impl:
    """torch.svd_lowrank with q = min(m, n): randomized range finder of full rank."""
    return Impl(
        name="torch.svd_lowrank",
        run=lambda a: torch.svd_lowrank(a, q=min(a.shape[-2:]), niter=LOWRANK_NITER),
        to_usv=lambda out: tuple(out),
        timer=timer,
        notes=f"q=min(m,n), niter={LOWRANK_NITER}",
    )


def cupy_supports_stacked(cp: Any) -> bool:
    """Whether this CuPy's linalg.svd accepts a batch of matrices."""
    try:
        cp.linalg.svd(cp.zeros((2, 2, 2), dtype=cp.float32), full_matrices=False)
        return True
    except Exception:
        return False


def cupy_impl(device: torch.device, found: Discovery, values: bool = False) -> Impl | Unavailable:
    """cupy.linalg.svd on the same GPU, inputs shared with torch through DLPack; with
    `values`, compute_uv=False."""
    name = "cupy.linalg.svd" + ("[values]" if values else "")
    try:
        cp = importlib.import_module("cupy")
        found.versions["cupy"] = cp.__version__
        gpu = cp.cuda.Device(device.index if device.index is not None
                             else torch.cuda.current_device())
        with gpu:
            stacked = cupy_supports_stacked(cp)
    except Exception as exc:
        return Unavailable(name, describe_error(exc))

    def svd(a: Any) -> Any:
        if a.ndim == 2 or stacked:
            return cp.linalg.svd(a, full_matrices=False, compute_uv=not values)
        return [cp.linalg.svd(a[i], full_matrices=False, compute_uv=not values)
                for i in range(a.shape[0])]

    def to_usv(out: Any) -> USV:
        if values:
            s = (torch.stack([torch.from_dlpack(x) for x in out]) if isinstance(out, list)
                 else torch.from_dlpack(out))
            return None, s, None
        if isinstance(out, list):  # looped: one (u, s, vh) per matrix
            u, s, vh = (torch.stack([torch.from_dlpack(x) for x in part]) for part in zip(*out))
        else:
            u, s, vh = (torch.from_dlpack(x) for x in out)
        return u, s, vh.mH

    def prepare(xs: list[torch.Tensor]) -> tuple[list[Any], str]:
        with gpu:
            return [cp.from_dlpack(x) for x in xs], "input via DLPack (zero-copy)"

    return Impl(
        name=name,
        run=svd,
        to_usv=to_usv,
        timer=make_cupy_timer(cp),
        prepare=prepare,
        cleanup=lambda: cp.get_default_memory_pool().free_all_blocks(),
        notes="" if stacked else "looped over the batch (this CuPy has no stacked SVD)",
    )


def jax_input(jax: Any, x: torch.Tensor, gpu: Any) -> tuple[Any, str]:
    """Move one torch tensor to JAX's GPU, through DLPack if it can, else through numpy."""
    try:
        arr = jax.dlpack.from_dlpack(x)
        if arr.devices() == {gpu}:
            return arr, "input via DLPack"
    except Exception:
        pass
    return jax.device_put(x.cpu().numpy(), gpu), "input via numpy, copied once"


def jax_impl(device: torch.device, enable_x64: bool, found: Discovery,
             values: bool = False) -> Impl | Unavailable:
    """jnp.linalg.svd, jitted, on JAX's GPU; timed by wall clock with block_until_ready; with
    `values`, compute_uv=False."""
    name = "jax.numpy.linalg.svd" + ("[values]" if values else "")
    # Without this JAX reserves most of the GPU's memory at start, starving torch and CuPy.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        jax = importlib.import_module("jax")
        jnp = importlib.import_module("jax.numpy")
        importlib.import_module("jax.dlpack")
        found.versions["jax"] = jax.__version__
        if enable_x64:
            jax.config.update("jax_enable_x64", True)
        gpus = jax.devices("gpu")
    except Exception as exc:
        return Unavailable(name, describe_error(exc))
    index = device.index if device.index is not None else torch.cuda.current_device()
    gpu = gpus[index] if index < len(gpus) else gpus[0]
    svd = jax.jit(functools.partial(jnp.linalg.svd, full_matrices=False, compute_uv=not values))

    def prepare(xs: list[torch.Tensor]) -> tuple[list[Any], str]:
        moved = [jax_input(jax, x, gpu) for x in xs]
        return [arr for arr, _ in moved], moved[0][1] + "; jitted"

    def to_usv(out: Any) -> USV:
        if values:
            return None, torch.from_numpy(jax.device_get(out).copy()), None
        u, s, vh = (torch.from_numpy(jax.device_get(x).copy()) for x in out)
        return u, s, vh.mT

    return Impl(name=name, run=svd, to_usv=to_usv, timer=make_jax_timer(jax), prepare=prepare)


def discover(device: torch.device, dtypes: list[torch.dtype]) -> Discovery:
    """Every implementation to time on `device`, in table order (metalsvd first)."""
    found = Discovery()
    timer = time_torch_cuda if device.type == "cuda" else time_cpu
    found.impls.append(metalsvd_impl(timer, found))
    drivers = CUDA_DRIVERS if device.type == "cuda" else (None,)
    found.impls += [torch_svd_impl(d, device, timer) for d in drivers]
    found.impls.append(torch_lowrank_impl(timer))
    if device.type == "cuda":
        found.impls.append(cupy_impl(device, found))
        found.impls.append(jax_impl(device, torch.float64 in dtypes, found))
    return found


def discover_values(device: torch.device, dtypes: list[torch.dtype]) -> Discovery:
    """The values suite: metalsvd.svdvals first (the speedup reference), then metalsvd.svd
    (what the values alone save), torch.linalg.svdvals with each cuSOLVER driver, CuPy and JAX
    with compute_uv=False."""
    found = Discovery()
    timer = time_torch_cuda if device.type == "cuda" else time_cpu
    try:
        module = import_metalsvd()
        found.metalsvd_path = getattr(module, "__file__", None)
        found.versions["metalsvd"] = metalsvd_version(module)
        found.impls.append(Impl(name=METALSVD_VALUES_NAME, run=module.svdvals,
                                to_usv=lambda s: (None, s, None), timer=timer, takes_half=True))
    except Exception as exc:  # an ImportError, or a broken extension raising anything
        found.impls.append(Unavailable(METALSVD_VALUES_NAME, describe_error(exc)))
    found.impls.append(metalsvd_impl(timer, found))
    for driver in CUDA_DRIVERS if device.type == "cuda" else (None,):
        found.impls.append(Impl(
            name=f"torch.linalg.svdvals[{driver or 'default'}]",
            run=lambda a, driver=driver: torch.linalg.svdvals(a, driver=driver),
            to_usv=lambda s: (None, s, None), timer=timer,
            notes="driver=None: PyTorch's own choice" if driver is None else f"driver={driver}"))
    if device.type == "cuda":
        found.impls.append(cupy_impl(device, found, values=True))
        found.impls.append(jax_impl(device, torch.float64 in dtypes, found, values=True))
    return found


def discover_truncated(device: torch.device, k: int, oversample: int,
                       n_iter: int) -> Discovery:
    """The truncated suite: metalsvd's randomized and Lanczos SVDs and torch.svd_lowrank (on
    CPU tensors it runs on LAPACK), all for the top k with the same sketch size and power
    iterations; metalsvd.randomized_svd first (the speedup reference)."""
    found = Discovery()
    timer = time_torch_cuda if device.type == "cuda" else time_cpu
    try:
        module = import_metalsvd()
        found.metalsvd_path = getattr(module, "__file__", None)
        found.versions["metalsvd"] = metalsvd_version(module)
        generator = torch.Generator(device=device).manual_seed(0)
        found.impls.append(Impl(
            name=METALSVD_TRUNCATED_NAME,
            run=lambda a: module.randomized_svd(a, k, n_iter=n_iter, oversample=oversample,
                                                generator=generator),
            to_usv=lambda out: tuple(out), timer=timer, takes_half=True,
            notes=f"k={k}, oversample={oversample}, n_iter={n_iter}"))
        found.impls.append(Impl(
            name="metalsvd.lanczos_svd",
            run=lambda a: module.lanczos_svd(a, k), to_usv=lambda out: tuple(out),
            timer=timer, takes_half=True,
            notes=f"k={k}, default tol (sqrt(eps)), one host synchronisation per restart"))
    except Exception as exc:  # an ImportError, or a broken extension raising anything
        found.impls.append(Unavailable(METALSVD_TRUNCATED_NAME, describe_error(exc)))
    q = k + oversample
    found.impls.append(Impl(
        name="torch.svd_lowrank",
        run=lambda a: torch.svd_lowrank(a, q=q, niter=n_iter),
        to_usv=lambda out: (out[0][..., :k], out[1][..., :k], out[2][..., :k]),
        timer=timer, notes=f"q={q}, niter={n_iter}, top {k} kept"))
    return found

"""patch_torch(): PyTorch's SVD family runs on metalsvd, registered at the dispatcher.

Everything in PyTorch that factors a matrix by SVD ends in one operator, ``aten::_linalg_svd``
(and its out= overload ``aten::_linalg_svd.U``): ``torch.linalg.svd``, ``svdvals``,
``torch.svd``, ``pinv``, ``matrix_rank``, ``matrix_norm(ord=2 / -2 / 'nuc')``, ``cond`` are
compositions over it. Its autograd kernel (which saves U, S, Vh and calls PyTorch's
``svd_backward``) sits at the Autograd key, above the backend keys; so registering our kernel
at a backend key (CPU, CUDA, MPS) changes who factors the matrix and nothing else: gradients,
``torch.func`` transforms and ``torch.compile`` keep working as PyTorch defines them.

The registrations live in ``torch.library.Library`` objects. The dispatcher keeps every kernel
registered for a key, newest first, and destroying a Library deregisters its kernels, which
brings back the kernel that was there before: that is how :func:`unpatch_torch` restores
PyTorch exactly.
"""

import contextlib
import gc
import threading
import warnings
from collections import Counter
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import torch

from . import _aten_svd
from ._devices import built_backends

# Device types patch_torch knows, and the backend dispatch key of each.
_DISPATCH_KEYS = {"cpu": "CPU", "cuda": "CUDA", "mps": "MPS"}

_lock = threading.RLock()
# Per patched device type: the Library objects holding its registrations.
_libraries: Dict[str, List[torch.library.Library]] = {}
# Calls of the registered kernels per device type, for tests and for users who want to check
# that their program really reaches metalsvd.
_kernel_calls: Counter = Counter()

Devices = Union[str, torch.device, Iterable[Union[str, torch.device]]]


def _device_types(devices: Devices, function: str) -> Tuple[str, ...]:
    if isinstance(devices, (str, torch.device)):
        devices = (devices,)
    types = []
    for device in devices:
        try:
            device_type = torch.device(device).type
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"{function}: {device!r} is not a device name ({error})") from None
        if device_type not in _DISPATCH_KEYS:
            raise ValueError(
                f"{function}: metalsvd has no kernels for {device_type!r} tensors; "
                f"the devices it can patch are {', '.join(sorted(_DISPATCH_KEYS))}"
            )
        if device_type not in built_backends():
            raise ValueError(
                f"{function}: this build of metalsvd has no {device_type!r} backend "
                f"(built: {', '.join(built_backends())}); metalsvd.built_backends() lists them"
            )
        if device_type not in types:
            types.append(device_type)
    if not types:
        raise ValueError(f"{function}: no devices given")
    return tuple(types)


def _previous_kernel(op: str, key: str):
    """The kernel now at ``key``, callable later, where this PyTorch offers one (2.8+)."""
    get_kernel = getattr(torch.library, "get_kernel", None)
    if get_kernel is None:
        return None
    try:
        kernel = get_kernel(op, key)
    except RuntimeError:
        return None
    keyset = torch._C.DispatchKeySet(getattr(torch._C.DispatchKey, key))
    return lambda *args, **kwargs: kernel.call_boxed(keyset, *args, **kwargs)


def _linalg_svd_composite(A, full_matrices=True, *, driver=None):
    # PyTorch's CompositeImplicitAutograd body of linalg_svd.
    return torch.ops.aten._linalg_svd.default(A, full_matrices, True, driver=driver)


def _linalg_svd_out_composite(A, full_matrices=True, *, driver=None, U, S, Vh):
    # PyTorch's CompositeImplicitAutograd body of linalg_svd.U.
    return torch.ops.aten._linalg_svd.U(
        A, full_matrices, True, driver=driver, U=U, S=S, Vh=Vh
    )


def _register(device_type: str) -> List[torch.library.Library]:
    key = _DISPATCH_KEYS[device_type]
    fallback = _previous_kernel("aten::_linalg_svd", key)
    fallback_out = _previous_kernel("aten::_linalg_svd.U", key)

    def kernel(A, full_matrices=False, compute_uv=True, *, driver=None):
        _kernel_calls[device_type] += 1
        return _aten_svd.linalg_svd(
            A, full_matrices, compute_uv, driver=driver, fallback=fallback
        )

    def kernel_out(A, full_matrices=False, compute_uv=True, *, driver=None, U, S, Vh):
        _kernel_calls[device_type] += 1
        if A.is_complex() and fallback_out is not None:
            return fallback_out(A, full_matrices, compute_uv, driver=driver, U=U, S=S, Vh=Vh)
        return _aten_svd.linalg_svd_out(
            A, full_matrices, compute_uv, driver=driver, U=U, S=S, Vh=Vh, fallback=fallback
        )

    library = torch.library.Library("aten", "IMPL")
    # Where PyTorch already has a kernel at this key (CPU, CUDA; MPS from PyTorch 2.14 on),
    # the dispatcher warns once that it is being overridden: that is the intent here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        library.impl("_linalg_svd", kernel, key)
        library.impl("_linalg_svd.U", kernel_out, key)
        # PyTorch registers linalg_svd and linalg_svd.U themselves at the MPS key (a CPU
        # fallback, aten/src/ATen/mps/MPSFallback.mm, through PyTorch 2.13). A kernel at a
        # backend key keeps the dispatcher from filling that backend's Autograd key with the
        # op's CompositeImplicitAutograd kernel, so the call would reach the fallback, never
        # _linalg_svd. Registering the composite body at the Autograd key (AutogradMPS) sends
        # it to _linalg_svd again, whose autograd and backend kernels then run as elsewhere;
        # registering it at the backend key too covers calls that skip the Autograd keys
        # (torch.inference_mode, calls from kernels below autograd).
        composites = (
            ("linalg_svd", _linalg_svd_composite),
            ("linalg_svd.U", _linalg_svd_out_composite),
        )
        for op, body in composites:
            if torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{op}", key):
                library.impl(op, body, "Autograd" + key)
                library.impl(op, body, key)
    return [library]


def _destroy(library: torch.library.Library) -> None:
    destroy = getattr(library, "_destroy", None)
    if destroy is not None:
        destroy()
    else:  # PyTorch before 2.3 deregisters when the object is collected
        library.m = None
        gc.collect()


def patch_torch(devices: Devices = ("mps",)) -> Tuple[str, ...]:
    """Make PyTorch's SVD family run on metalsvd for tensors on ``devices``.

    Registers metalsvd's kernel for ``aten::_linalg_svd`` and its out= overload at the
    dispatch key of each device type, so that ``torch.linalg.svd``, ``torch.linalg.svdvals``,
    ``torch.svd``, ``torch.linalg.pinv``, ``torch.linalg.matrix_rank``,
    ``torch.linalg.matrix_norm(ord=2 | -2 | 'nuc')`` and ``torch.linalg.cond`` factor on
    metalsvd (``torch.linalg.lstsq`` too, where PyTorch computes it through the SVD: on mps
    from PyTorch 2.14). Gradients come from
    PyTorch's own ``svd_backward``; ``torch.func.vmap``, ``torch.compile`` and ``out=`` work
    as with PyTorch's kernel. Results have the shapes, dtypes and strides PyTorch gives.

    Args:
        devices: device types (or devices: only the type counts) to patch: "mps" (the
            default), "cuda", or "cpu" (runs the GPU kernels on the CPU emulator: for tests,
            not speed). Each must be in :func:`metalsvd.built_backends`.

    Returns:
        The device types patched now, in all (see :func:`patched_devices`).

    Calling it again is harmless: device types already patched stay as they are. The
    ``driver=`` argument of ``torch.linalg.svd`` is checked as PyTorch checks it, then
    ignored: metalsvd's plan picks the algorithm. Complex matrices, which metalsvd does not
    factor, go to the kernel PyTorch had where this PyTorch (2.8 or later) can call it.
    """
    types = _device_types(devices, "metalsvd.patch_torch")
    with _lock:
        for device_type in types:
            if device_type not in _libraries:
                _libraries[device_type] = _register(device_type)
        return patched_devices()


def unpatch_torch(devices: Optional[Devices] = None) -> Tuple[str, ...]:
    """Undo :func:`patch_torch` for ``devices`` (all patched ones by default).

    PyTorch's previous kernels come back exactly as they were. Device types not patched are
    ignored. Returns the device types that remain patched.
    """
    with _lock:
        if devices is None:
            types = tuple(_libraries)
        else:
            types = _device_types(devices, "metalsvd.unpatch_torch")
        for device_type in types:
            for library in _libraries.pop(device_type, ()):
                _destroy(library)
        return patched_devices()


def patched_devices() -> Tuple[str, ...]:
    """The device types whose SVDs :func:`patch_torch` now sends to metalsvd."""
    with _lock:
        return tuple(_libraries)


@contextlib.contextmanager
def patched(devices: Devices = ("mps",)) -> Iterator[Tuple[str, ...]]:
    """Context manager: :func:`patch_torch` on entry; on exit, unpatch what it patched.

    Device types that were already patched before stay patched after, so blocks nest.

    >>> with metalsvd.patched(devices=("cuda",)):
    ...     S = torch.linalg.svdvals(A)  # on metalsvd for cuda tensors
    """
    types = _device_types(devices, "metalsvd.patched")
    with _lock:
        added = tuple(t for t in types if t not in _libraries)
        patch_torch(types)
    try:
        yield patched_devices()
    finally:
        if added:
            unpatch_torch(added)

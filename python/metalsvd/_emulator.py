"""Options of the CPU threadgroup emulator that runs the GPU kernels for CPU tensors."""

from typing import NamedTuple, Optional

from ._ops import ops


class EmulatorOptions(NamedTuple):
    schedule_seed: int
    threadgroup_memory_bytes: int
    host_threads: int


def emulator_options() -> EmulatorOptions:
    """The options the emulator runs CPU tensors with."""
    return EmulatorOptions(*ops.emulator_options())


def set_emulator_options(
    schedule_seed: Optional[int] = None,
    threadgroup_memory_bytes: Optional[int] = None,
    host_threads: Optional[int] = None,
) -> EmulatorOptions:
    """Changes how CPU tensors are run through the GPU kernels; returns the previous options.

    Args:
        schedule_seed: 0 runs the threads of a group in order between synchronisation points;
            any other value shuffles them with that seed, which exposes missing barriers.
        threadgroup_memory_bytes: threadgroup memory per group; 32768 (an Apple GPU's) by
            default, so CPU runs plan exactly as Metal will.
        host_threads: CPU threads that run groups in parallel; 0 uses every core.
    """
    previous = emulator_options()
    ops.set_emulator_options(
        previous.schedule_seed if schedule_seed is None else schedule_seed,
        previous.threadgroup_memory_bytes
        if threadgroup_memory_bytes is None
        else threadgroup_memory_bytes,
        previous.host_threads if host_threads is None else host_threads,
    )
    return previous

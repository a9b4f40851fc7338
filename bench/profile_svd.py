"""Where the time of one metalsvd.svd call goes: CUDA kernel times from torch.profiler,
grouped by kernel, for one shape.

    python bench/profile_svd.py --shape 2048x2048 [--algorithm auto] [--gemm-sweeps -1]
                                [--threads 0] [--rows 25]
                                [--overlap] [--values] [--two-stage 1] [--resident 1] [--once]
                                [--launches REGEX [--buckets 16]]

--values profiles the values alone (metalsvd::svdvals_ex) instead. --two-stage 1 goes through
the two-stage bidiagonalisation, 0 through the one-stage one (default: the plan's). --resident 1
bidiagonalises in one launch with the matrix in registers where it can (bidiagonal_resident), 0
never (default: the plan's). --once makes
one call and no profile, for a profiler outside (Nsight Compute: tools/gpu-run's NCU_SHAPE).
--launches also prints, for each kernel whose name matches, its launches in the order they ran
in consecutive buckets: how a kernel's time changes as the problem shrinks (the one-stage
bidiagonalisation's launch j works on column j).

The kernels are launched one after another (METALSVD_CUDA_OVERLAP=0) unless --overlap is
given: a kernel launched while the previous one runs waits for it, and the profiler would
count that wait as its time."""

import argparse
import os
import re

import torch
from torch.profiler import ProfilerActivity, profile

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="2048x2048")
    p.add_argument("--algorithm", default="auto")
    p.add_argument("--gemm-sweeps", type=int, default=-1,
                   help="blocked Jacobi sweeps run as backend GEMMs (-1: the plan's)")
    p.add_argument("--threads", type=int, default=0,
                   help="the bidiagonalisation's GEMV kernels' threads (0: the plan's)")
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--overlap", action="store_true",
                   help="launch kernels while the previous one runs, as by default")
    p.add_argument("--values", action="store_true",
                   help="the singular values alone (svdvals_ex) instead of the full SVD")
    p.add_argument("--two-stage", type=int, default=-1, choices=[-1, 0, 1],
                   help="1 the two-stage bidiagonalisation, 0 the one-stage one, -1 the "
                        "plan's")
    p.add_argument("--resident", type=int, default=-1, choices=[-1, 0, 1],
                   help="1 the one-stage bidiagonalisation in one launch where it can run, 0 "
                        "never, -1 the plan's")
    p.add_argument("--launches", default="",
                   help="regular expression over kernel names: time their launches in order")
    p.add_argument("--buckets", type=int, default=16,
                   help="with --launches: buckets of consecutive launches to print")
    p.add_argument("--once", action="store_true",
                   help="one call, no profiler (for a profiler outside the process)")
    args = p.parse_args()
    os.environ["METALSVD_CUDA_OVERLAP"] = "1" if args.overlap else "0"
    shape = tuple(int(x) for x in args.shape.split("x"))
    A = torch.randn(*shape, device="cuda")

    def call():
        if args.values:
            return torch.ops.metalsvd._svdvals_ex_with_tuning(A, args.algorithm, args.two_stage)
        return torch.ops.metalsvd._svd_ex_with_tuning(A, False, 0, 0, args.algorithm, 0, 0, 0, 0,
                                                      0, args.gemm_sweeps,
                                                      dc_threads=args.threads,
                                                      two_stage=args.two_stage,
                                                      dc_resident=args.resident)

    call()
    torch.cuda.synchronize()
    if args.once:
        return
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        call()
        torch.cuda.synchronize()
    what = (f"values alone two_stage={args.two_stage}" if args.values
            else f"gemm_sweeps={args.gemm_sweeps} threads={args.threads} "
                 f"two_stage={args.two_stage} resident={args.resident}")
    print(f"== {args.shape} algorithm={args.algorithm} {what}: CUDA time by kernel")
    totals = {}
    for event in prof.key_averages():
        time_us = getattr(event, "self_device_time_total", None)
        if time_us is None:
            time_us = event.self_cuda_time_total
        if time_us <= 0:
            continue
        name = kernel_name(event.key)
        count, total = totals.get(name, (0, 0.0))
        totals[name] = (count + event.count, total + time_us)
    grand = sum(t for _, t in totals.values())
    print(f"{'kernel':<60} {'calls':>7} {'total ms':>9} {'share':>6}")
    for name, (count, total) in sorted(totals.items(), key=lambda kv: -kv[1][1])[: args.rows]:
        print(f"{name:<60} {count:>7} {total / 1e3:>9.2f} {total / grand:>6.1%}")
    print(f"{'all':<60} {'':>7} {grand / 1e3:>9.2f}", flush=True)
    if args.launches:
        print_launches(prof, re.compile(args.launches), args.buckets)
    info = call()[-1]
    print("info", info.tolist() if info.numel() < 8 else info.unique().tolist())


def kernel_name(key):
    """A workspace kernel's name is its entry template instantiated with the kernel function
    (metalsvd::kernels::block_jacobi_gram<Params, float, float>): the function is the kernels'
    name followed by a template argument list; the parameter types are not."""
    matches = re.findall(r"metalsvd::kernels::(\w+)<", key)
    return matches[-1] if matches else key[:60]


def print_launches(prof, pattern, buckets):
    """Each matching kernel's launches in the order they ran, in `buckets` runs of consecutive
    launches: the first launch of a run, and the mean, least and most microseconds of its
    launches."""
    launches = {}
    for event in prof.events():
        if getattr(event, "device_type", None) != torch.autograd.DeviceType.CUDA:
            continue
        name = kernel_name(event.name)
        if not pattern.search(name):
            continue
        launches.setdefault(name, []).append((event.time_range.start, event.time_range.elapsed_us()))
    for name, runs in sorted(launches.items()):
        runs.sort()
        times = [t for _, t in runs]
        size = max(1, -(-len(times) // buckets))
        print(f"-- {name}: {len(times)} launches, microseconds a launch")
        print(f"{'from':>7} {'mean':>9} {'least':>9} {'most':>9}")
        for first in range(0, len(times), size):
            part = times[first:first + size]
            print(f"{first:>7} {sum(part) / len(part):>9.1f} {min(part):>9.1f} {max(part):>9.1f}")


if __name__ == "__main__":
    main()

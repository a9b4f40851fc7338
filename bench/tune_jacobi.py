"""Times the fused Jacobi kernel's sweep strategies (pairwise at several rows per lane, warp
blocks), to choose the plan's defaults (csrc/core/jacobi_small_plan.h).

    python bench/tune_jacobi.py [--device cuda] [--workloads 64x128x128,256x64x64,512x32x32]
"""

import argparse
import sys

import torch

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)
from bench_accuracy import checked_indices, checked_subset, measure, reference_singular_values
from bench_inputs import parse_workload
from bench_timing import benchmark, time_cpu, time_torch_cuda

# (label, jacobi_sweeps, rows_per_lane) for torch.ops.metalsvd._svd_ex_with_tuning.
VARIANTS = [("plan's choice", 0, 0), ("warp blocks", 2, 0)] + [
    (f"pairwise, {rows} rows/lane", 1, rows) for rows in (2, 4, 8, 16)
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workloads", default="64x128x128,256x64x64,512x32x32")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    print(f"{'workload':<14}{'variant':<26}{'median ms':>10}{'sigma err':>11}{'orth V':>9}")
    timer = time_torch_cuda if device.type == "cuda" else time_cpu
    for workload in (parse_workload(w) for w in args.workloads.split(",")):
        A = torch.randn(workload.shape, generator=generator).to(device)
        indices = checked_indices(workload.count)
        s_ref = reference_singular_values(checked_subset(A, indices, 2))
        for label, sweeps, rows in VARIANTS:
            def run(x, sweeps=sweeps, rows=rows):
                return torch.ops.metalsvd._svd_ex_with_tuning(x, False, sweeps, rows)

            U, S, V, _ = run(A)
            errors = measure(A, U, S, V, s_ref, indices)
            timing = benchmark(run, [A], timer, warmup=3, repeats=args.repeats, budget_s=10.0)
            print(f"{workload.label:<14}{label:<26}{timing.median_ms:>10.3f}"
                  f"{errors.sigma_err:>11.1e}{errors.v_orth:>9.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

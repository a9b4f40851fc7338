"""Where the time of one metalsvd.svd call goes: CUDA kernel times from torch.profiler,
grouped by kernel, for one shape.

    python bench/profile_svd.py --shape 2048x2048 [--algorithm auto] [--rows 25]"""

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="2048x2048")
    p.add_argument("--algorithm", default="auto")
    p.add_argument("--rows", type=int, default=25)
    args = p.parse_args()
    shape = tuple(int(x) for x in args.shape.split("x"))
    A = torch.randn(*shape, device="cuda")

    def call():
        return torch.ops.metalsvd._svd_ex_with_tuning(A, False, 0, 0, args.algorithm, 0, 0, 0)

    call()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        call()
        torch.cuda.synchronize()
    print(f"== {args.shape} algorithm={args.algorithm}: CUDA time by kernel")
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows,
                                      max_name_column_width=70)
    print(table, flush=True)
    _, _, _, info = call()
    print("info", info.tolist() if info.numel() < 8 else info.unique().tolist())


if __name__ == "__main__":
    main()

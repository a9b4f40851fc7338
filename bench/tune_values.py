"""Times the singular values alone (metalsvd.svdvals) through the one-stage and the two-stage
bidiagonalisation, on one device, with their accuracy against float64 singular values, beside
torch.linalg.svdvals' default and gesvda drivers on the same input.

    python bench/tune_values.py [--device cuda] [--sizes 1024x1024,4096x4096]
                                [--stages 1,2] [--qr-rows 0,256,1024] [--algorithm auto]
                                [--peers default,gesvda] [--dtype float32] [--repeats 3]

For each shape and setting: the median time of the call and the sigma error
max |sigma - sigma_ref| / sigma_max. --stages: 1 the one-stage bidiagonalisation (two launches a
column), 2 the two-stage one (band reduction by panels, then bulge chasing); --qr-rows: the rows
of the QR tiles of the two-stage reduction's panels and of the QR that precedes tall shapes (0:
the plan's); --algorithm: auto, dc or qr. The reference is float64 svdvals on the same device
(cuSOLVER on CUDA, LAPACK on the CPU)."""

import argparse

import torch

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)
from bench_timing import median_call_ms


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", default="1024x1024,2048x2048,4096x4096")
    p.add_argument("--stages", default="1,2")
    p.add_argument("--qr-rows", default="0")
    p.add_argument("--algorithm", default="auto", choices=["auto", "dc", "qr"])
    p.add_argument("--peers", default="default,gesvda",
                   help="torch.linalg.svdvals drivers to time beside it (CUDA only; none: none)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    stages = [int(s) for s in args.stages.split(",")]
    if any(s not in (1, 2) for s in stages):
        p.error("--stages takes 1, 2 or 1,2")
    print(f"dtype {args.dtype}, algorithm {args.algorithm}; setting: stages/qr tile rows "
          "(0: the plan's)")
    print(f"{'shape':>11} {'setting':>16} {'ms':>9} {'sigma err':>10}", flush=True)
    for text in args.sizes.split(","):
        m, n = (int(x) for x in text.split("x"))
        g = torch.Generator().manual_seed(m * 7919 + n)
        A = torch.randn(m, n, generator=g, dtype=torch.float64).to(dtype).to(device)
        ref = torch.linalg.svdvals(A.double())

        def report(label, call):
            ms = median_call_ms(call, device, args.repeats)
            S = call()
            S = S[0] if isinstance(S, tuple) else S
            error = ((S.double() - ref).abs().max() / ref[0]).item()
            print(f"{text:>11} {label:>16} {ms:>9.2f} {error:>10.1e}", flush=True)

        for stage in stages:
            for rows in (int(r) for r in args.qr_rows.split(",")):
                report(f"{stage}/{rows}", lambda: torch.ops.metalsvd._svdvals_ex_with_tuning(
                    A, args.algorithm, stage - 1, rows))
        if device.type != "cuda":
            continue
        for driver in (d for d in args.peers.split(",") if d not in ("", "none")):
            name = None if driver == "default" else driver
            report(f"torch {driver}", lambda: torch.linalg.svdvals(A, driver=name))


if __name__ == "__main__":
    main()

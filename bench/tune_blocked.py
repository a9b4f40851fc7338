"""Times the blocked Jacobi SVD's knobs (block width, inner sweeps, the pair eigensolver's
threads, the rotation's row tile, the leading sweeps run as backend GEMMs, the polish sweeps after
convergence) and counts the outer sweeps it needs, on one device, against the float64 LAPACK
singular values.

    python bench/tune_blocked.py [--device cuda] [--sizes 1024,2048] [--blocks 8,16,32]
                                 [--inner 1,2,3] [--eigen-threads 0,32,64] [--row-tiles 0,128]
                                 [--gemm-sweeps -1,0,8,30] [--polish-sweeps -1,0,2]
                                 [--no-sweeps]

0 stands for the plan's choice (-1 for --gemm-sweeps and --polish-sweeps).
For each size and setting: the median time of the plan's full call, the sigma error, the
largest entries of |U^T U - I| and |V^T V - I|, and the fewest outer sweeps with which every
matrix reports convergence (info 0; polish sweeps come after it)."""

import argparse
import itertools

import torch

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)
from bench_timing import median_call_ms


def run(A, algorithm, block, inner, max_sweeps=0, eigen_threads=0, row_tile=0, gemm_sweeps=-1,
        polish_sweeps=-1):
    return torch.ops.metalsvd._svd_ex_with_tuning(A, False, 0, 0, algorithm, block, inner,
                                                  max_sweeps, eigen_threads, row_tile, gemm_sweeps,
                                                  -1, polish_sweeps)


def ints(text):
    return [int(x) for x in text.split(",")]


def orthogonality(Q):
    """The largest entry of |Q^T Q - I|, in float64."""
    Q = Q.double()
    return (Q.mT @ Q - torch.eye(Q.shape[-1], dtype=Q.dtype, device=Q.device)).abs().max().item()


def sweeps_needed(A, algorithm, block, inner, gemm_sweeps, polish, limit=16):
    for sweeps in range(1, limit + 1):
        _, _, _, info = run(A, algorithm, block, inner, sweeps, gemm_sweeps=gemm_sweeps,
                            polish_sweeps=polish)
        if bool((info == 0).all()):
            return sweeps
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", default="1024,2048")
    p.add_argument("--blocks", default="8,16,32")
    p.add_argument("--inner", default="1,2,3")
    p.add_argument("--eigen-threads", default="0")
    p.add_argument("--row-tiles", default="0")
    p.add_argument("--gemm-sweeps", default="-1")
    p.add_argument("--polish-sweeps", default="-1")
    p.add_argument("--no-sweeps", action="store_true",
                   help="skip counting the outer sweeps needed (one call per sweep count)")
    p.add_argument("--algorithm", default="blocked")
    args = p.parse_args()
    device = torch.device(args.device)
    print(f"{'size':>6} {'block':>5} {'inner':>5} {'eigen':>5} {'tile':>4} {'gemm':>4} "
          f"{'polish':>6} {'ms':>9} {'sweeps':>6} {'sigma err':>9} {'U orth':>9} {'V orth':>9}",
          flush=True)
    for n in (int(x) for x in args.sizes.split(",")):
        gen = torch.Generator().manual_seed(n)
        A64 = torch.randn(n, n, generator=gen, dtype=torch.float64)
        ref = torch.linalg.svdvals(A64)
        A = A64.float().to(device)
        for block in ints(args.blocks):
            for inner in ints(args.inner):
                for threads, tile, gemm, polish in itertools.product(
                        ints(args.eigen_threads), ints(args.row_tiles), ints(args.gemm_sweeps),
                        ints(args.polish_sweeps)):
                    def call():
                        return run(A, args.algorithm, block, inner, 0, threads, tile, gemm, polish)
                    ms = median_call_ms(call, device)
                    U, S, V, _ = call()
                    err = ((S.double().cpu() - ref).abs().max() / ref[0]).item()
                    sweeps = (None if args.no_sweeps
                              else sweeps_needed(A, args.algorithm, block, inner, gemm, polish))
                    print(f"{n:>6} {block:>5} {inner:>5} {threads:>5} {tile:>4} {gemm:>4} "
                          f"{polish:>6} {ms:>9.1f} {sweeps!s:>6} {err:>9.1e} "
                          f"{orthogonality(U):>9.1e} {orthogonality(V):>9.1e}", flush=True)


if __name__ == "__main__":
    main()

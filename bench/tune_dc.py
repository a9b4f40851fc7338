"""Times the bidiagonalisation and divide-and-conquer SVD (algorithm "dc") and its knob, on one
device, with its accuracy against float64 singular values, beside torch.linalg.svd's default
and gesvda drivers on the same input.

    python bench/tune_dc.py [--device cuda] [--sizes 1024x1024,4096x4096]
                            [--gemm-rows 0,256,1024] [--threads 0,256,1024]
                            [--groups 0,64,256] [--tail=-1,0,128] [--overlap on,off]
                            [--algorithms dc,qr] [--qr-rows 0,128,512] [--two-stage 0,1]
                            [--resident=0,1]
                            [--peers default,gesvda] [--dtype float32] [--repeats 3]

For each shape and setting: the median time of the full call, the sigma error
max |sigma - sigma_ref| / sigma_max, the largest entries of |U^T U - I| and |V^T V - I| and the
reconstruction error ||A - U S V^T||_F / ||A||_F. --gemm-rows: the nodes from which the divide
and conquer's vectors are GEMMs; --threads: the bidiagonalisation's GEMV kernels' threads;
--groups: the groups its launches should have at least; 0 stands for the plan's choice;
--tail: the trailing matrix is finished by one group a matrix once it has at most tail^2
elements (0: never, -1: the plan's);
--overlap (CUDA): whether each kernel may be launched while the previous one runs (the
default, "on") or only once it has finished ("off", METALSVD_CUDA_OVERLAP=0);
--algorithms: "dc" bidiagonalises the matrix itself, "qr" (tall shapes) its R after a
Householder QR, whose tiles have at most --qr-rows rows (0: the plan's); --dtype: float32
(the default) or float64 Gaussians; --two-stage: 1 the divide and conquer after the two-stage
bidiagonalisation (band reduction, bulge chasing), 0 after the one-stage one, -1 the plan's
(shown as 2s1, 2s0); --resident: 1 the one-stage bidiagonalisation in one launch with the
matrix in registers where the backend can run it, 0 never, -1 the plan's (shown as res1, res0).
A list that starts with -1 needs the option's "=" form (--resident=-1,1, --tail=-1,0), or it
reads as an option.
The reference is float64 svdvals on the same device
(cuSOLVER on CUDA, LAPACK on the CPU)."""

import argparse
import os

import torch

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)
from bench_timing import median_call_ms


def dc(A, algorithm, gemm_rows, threads, groups, tail, qr_rows, two_stage, resident):
    return torch.ops.metalsvd._svd_ex_with_tuning(A, False, 0, 0, algorithm, 0, 0, 0, 0, 0, -1,
                                                  -1, -1, gemm_rows, threads, groups, tail,
                                                  qr_rows, two_stage, resident)


def errors(A, U, S, V, ref):
    Ad, Ud, Sd, Vd = A.double(), U.double(), S.double(), V.double()
    eye = torch.eye(Sd.shape[-1], dtype=torch.float64, device=A.device)
    sigma = ((Sd - ref).abs().max() / ref[0]).item()
    u_orth = (Ud.mT @ Ud - eye).abs().max().item()
    v_orth = (Vd.mT @ Vd - eye).abs().max().item()
    recon = (torch.linalg.norm(Ad - Ud * Sd @ Vd.mT) / torch.linalg.norm(Ad)).item()
    return sigma, u_orth, v_orth, recon


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", default="1024x1024,2048x2048,4096x4096")
    p.add_argument("--gemm-rows", default="0")
    p.add_argument("--threads", default="0")
    p.add_argument("--groups", default="0")
    p.add_argument("--tail", default="-1")
    p.add_argument("--overlap", default="on", help="on, off or on,off (CUDA launches)")
    p.add_argument("--algorithms", default="dc", help="dc, qr or dc,qr")
    p.add_argument("--qr-rows", default="0")
    p.add_argument("--two-stage", default="-1",
                   help="1 the two-stage bidiagonalisation, 0 the one-stage one, -1 the plan's")
    p.add_argument("--resident", default="-1",
                   help="1 the one-stage bidiagonalisation in one launch where it can run, 0 "
                        "never, -1 the plan's")
    p.add_argument("--peers", default="default,gesvda",
                   help="torch.linalg.svd drivers to time beside it (CUDA only; none: none)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    if dtype != torch.float32:
        print(f"dtype {args.dtype}")
    if any(o not in ("on", "off") for o in args.overlap.split(",")):
        p.error("--overlap takes on, off or on,off")
    if any(a not in ("dc", "qr") for a in args.algorithms.split(",")):
        p.error("--algorithms takes dc, qr or dc,qr")
    print("setting dc R/T/G/L: gemm_rows R, threads T, groups G (0: the plan's), tail L "
          "(-1: the plan's); qr Q R/T/G/L: the same after a QR of tiles of Q rows "
          "(0: the plan's); seq: launches not overlapped")
    print(f"{'shape':>11} {'setting':>20} {'ms':>9} {'sigma err':>10} {'U orth':>9} "
          f"{'V orth':>9} {'recon':>9}", flush=True)
    for text in args.sizes.split(","):
        m, n = (int(x) for x in text.split("x"))
        g = torch.Generator().manual_seed(m * 7919 + n)
        A = torch.randn(m, n, generator=g, dtype=torch.float64).to(dtype).to(device)
        ref = torch.linalg.svdvals(A.double())
        settings = [(a, int(q), int(r), int(t), int(gr), int(tl), o, int(ts), int(rs))
                    for a in args.algorithms.split(",")
                    for q in (args.qr_rows.split(",") if a == "qr" else ["0"])
                    for r in args.gemm_rows.split(",") for t in args.threads.split(",")
                    for gr in args.groups.split(",") for tl in args.tail.split(",")
                    for o in args.overlap.split(",") for ts in args.two_stage.split(",")
                    for rs in args.resident.split(",")]
        for algorithm, qr_rows, rows, threads, groups, tail, overlap, two_stage, resident \
                in settings:
            # The backend reads the switch each call.
            os.environ["METALSVD_CUDA_OVERLAP"] = "0" if overlap == "off" else "1"
            knobs = (algorithm, rows, threads, groups, tail, qr_rows, two_stage, resident)
            ms = median_call_ms(lambda: dc(A, *knobs), device, args.repeats)
            U, S, V, info = dc(A, *knobs)
            e = errors(A, U, S, V, ref)
            label = ("dc " if algorithm == "dc" else f"qr {qr_rows} ") + \
                f"{rows}/{threads}/{groups}/{tail}" + (" seq" if overlap == "off" else "") + \
                ("" if two_stage == -1 else f" 2s{two_stage}") + \
                ("" if resident == -1 else f" res{resident}")
            print(f"{text:>11} {label:>20} {ms:>9.2f} {e[0]:>10.1e} {e[1]:>9.1e} "
                  f"{e[2]:>9.1e} {e[3]:>9.1e}  info {info.item()}", flush=True)
        if device.type != "cuda":
            continue
        for driver in (d for d in args.peers.split(",") if d not in ("", "none")):
            name = None if driver == "default" else driver

            def peer():
                return torch.linalg.svd(A, full_matrices=False, driver=name)

            ms = median_call_ms(peer, device, args.repeats)
            U, S, Vh = peer()
            e = errors(A, U, S, Vh.mT, ref)
            print(f"{text:>11} {'torch ' + driver:>20} {ms:>9.2f} {e[0]:>10.1e} {e[1]:>9.1e} "
                  f"{e[2]:>9.1e} {e[3]:>9.1e}", flush=True)


if __name__ == "__main__":
    main()

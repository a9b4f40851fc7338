"""Where the singular-value error of the blocked Jacobi sits in the spectrum, and what the
float64 Rayleigh quotient ||A v_j|| / ||v_j|| would make of it at each floor (the blocked
path's refinement replaces the values of at least floor * sigma_max; see
docs/architecture.md).

    python bench/sigma_error_bands.py [--device cuda] [--sizes 4096,8192]

For each n x n float32 Gaussian (seed n): the blocked path's values without the refinement,
the max error max |sigma - sigma_ref| / sigma_max with the quotient taken at each floor, and the
unrefined error per band of sigma / sigma_max. Reference: float64 svdvals on the same device."""

import argparse
import time

import torch

import metalsvd  # noqa: F401  (registers torch.ops.metalsvd)

FLOORS = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 0.0)
BANDS = ((1e-1, 1.01), (1e-2, 1e-1), (1e-3, 1e-2), (1e-4, 1e-3), (0.0, 1e-4))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", default="4096,8192")
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)
    for n in (int(x) for x in args.sizes.split(",")):
        g = torch.Generator().manual_seed(n)
        A = torch.randn(n, n, generator=g, dtype=torch.float64).float().to(device)
        start = time.perf_counter()
        _, S, V, info = torch.ops.metalsvd._svd_ex_with_tuning(A, False, 0, 0, "blocked", 0, 0, 0, 0,
                                                              0, -1, 0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        ref = torch.linalg.svdvals(A.double())
        Vd, Sd = V.double(), S.double()
        rayleigh = (A.double() @ Vd).norm(dim=0) / Vd.norm(dim=0)
        eye = torch.eye(n, dtype=torch.float64, device=device)
        v_orth = (Vd.T @ Vd - eye).abs().max().item()
        print(f"n={n} {seconds:.1f}s info={info.item()} max|V^T V - I|={v_orth:.1e}")
        for floor in (None, *FLOORS):
            s = Sd if floor is None else torch.where(Sd >= floor * Sd.max(), rayleigh, Sd)
            error = (s.sort(descending=True)[0] - ref).abs() / ref[0]
            j = int(error.argmax())
            label = "unrefined" if floor is None else f"floor {floor:g}"
            print(f"  {label:>12}: max error {error.max().item():.1e} "
                  f"at sigma/sigma_max {(ref[j] / ref[0]).item():.2f}")
        error = (Sd.sort(descending=True)[0] - ref).abs() / ref[0]
        relative = ref / ref[0]
        for low, high in BANDS:
            band = (relative >= low) & (relative < high)
            worst = error[band].max().item() if band.any() else 0.0
            print(f"  sigma/sigma_max in [{low:g}, {high:g}): {int(band.sum()):>5} values, "
                  f"unrefined max error {worst:.1e}", flush=True)


if __name__ == "__main__":
    main()

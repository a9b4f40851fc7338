"""Any size: the blocked Jacobi and QR-preconditioned paths, full_matrices, every shape class,
against LAPACK in float64. The emulator runs the blocked kernels at small block sizes so that
CI exercises many rounds and sweeps."""

import math
import re

import pytest
import torch

import metalsvd
from reference import (
    CONTRACT, FP32, FP64, assert_contract, gaussian, graded_spectrum, svd_errors,
    with_singular_values,
)


def tuned(A, algorithm, full_matrices=False, block=0, inner_sweeps=0, eigen_threads=0,
          row_tile=0, gemm_sweeps=-1, refine_sigma=-1, polish_sweeps=-1, max_sweeps=0,
          dc_gemm_rows=0, dc_threads=0, dc_groups=0, dc_tail=-1, qr_rows=0, two_stage=-1,
          dc_resident=-1):
    """metalsvd's operator with the algorithm and the blocked-Jacobi, divide-and-conquer and
    QR knobs set by hand."""
    return torch.ops.metalsvd._svd_ex_with_tuning(
        A, full_matrices, 0, 0, algorithm, block, inner_sweeps, max_sweeps, eigen_threads,
        row_tile, gemm_sweeps, refine_sigma, polish_sweeps, dc_gemm_rows, dc_threads, dc_groups,
        dc_tail, qr_rows, two_stage, dc_resident,
    )


@pytest.fixture
def small_threadgroup_memory():
    """A 4 KiB emulator: the fused kernel then holds only tiny matrices, so the plan must
    choose the blocked and QR paths (and the blocked kernels run with narrow blocks)."""
    previous = metalsvd.set_emulator_options(threadgroup_memory_bytes=4096)
    yield
    metalsvd.set_emulator_options(*previous)


@pytest.mark.parametrize(
    "shape, block",
    [((40, 30), 2), ((23, 37), 2), ((37, 23), 4), ((30, 40), 4), ((64, 64), 8), ((40, 30), 8)],
    ids=lambda x: f"{x[0]}x{x[1]}" if isinstance(x, tuple) else f"block{x}",
)
def test_blocked_jacobi(device, shape, block):
    A = gaussian(2, *shape, device=device, seed=block)
    U, S, V, info = tuned(A, "blocked", block=block)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"{shape} block {block}")


def test_blocked_jacobi_under_shuffled_schedules(emulator_seed):
    A = gaussian(36, 28, device="cpu", seed=emulator_seed)
    U, S, V, info = tuned(A, "blocked", block=4)
    assert info.item() == 0
    assert_contract(A, (U, S, V), FP32, f"seed {emulator_seed}")


@pytest.mark.parametrize("inner_sweeps", [1, 3])
def test_blocked_jacobi_inner_sweeps(device, inner_sweeps):
    A = gaussian(48, 40, device=device, seed=5)
    U, S, V, info = tuned(A, "blocked", block=4, inner_sweeps=inner_sweeps)
    assert info.item() == 0
    assert_contract(A, (U, S, V), FP32)


@pytest.mark.parametrize(
    "eigen_threads, row_tile", [(32, 0), (64, 8), (0, 4), (0, 128)],
    ids=["eigen32", "eigen64-tile8", "tile4", "tile128"],
)
def test_blocked_jacobi_kernel_shapes(device, eigen_threads, row_tile):
    """The pair eigensolver at other thread counts and the rotation at other row tiles give
    the same contract (the kernels loop over whatever threads and rows they are given)."""
    A = gaussian(2, 150, 72, device=device, seed=11)
    U, S, V, info = tuned(A, "blocked", block=8, eigen_threads=eigen_threads, row_tile=row_tile)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"eigen {eigen_threads} tile {row_tile}")


@pytest.mark.parametrize("knob", [dict(eigen_threads=48), dict(eigen_threads=2048),
                                  dict(row_tile=6), dict(row_tile=512), dict(gemm_sweeps=-2),
                                  dict(gemm_sweeps=101), dict(refine_sigma=2)])
def test_blocked_jacobi_knobs_out_of_range_are_refused(knob):
    with pytest.raises(ValueError, match="must be"):
        tuned(gaussian(40, 30, device="cpu"), "blocked", **knob)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("gemm_sweeps", [1, 30], ids=["gemm-first", "gemm-all"])
def test_blocked_jacobi_gemm_sweeps(device, gemm_sweeps, dtype):
    """Sweeps whose Gram matrices and rotations are backend GEMMs, the first one followed by
    the kernels or all of them. The GEMMs cannot skip a matrix: one with orthogonal columns
    (converged after one sweep) is rotated by the identity while the others still rotate, and
    a non-finite one beside them harms none."""
    if dtype == torch.float64 and device == "mps":
        pytest.skip("no float64 on mps")
    g = torch.Generator().manual_seed(13)
    A = gaussian(4, 60, 44, device="cpu", dtype=torch.float64, seed=12)
    A[1] = with_singular_values(60, 44, graded_spectrum(44, 3), g)
    A[1] = A[1] @ torch.linalg.svd(A[1], full_matrices=False)[2].mT  # orthogonal columns
    A[2, :, 20:] = A[2, :, :24] @ torch.randn(24, 24, generator=g, dtype=torch.float64) / 5
    A[3, 7, 9] = float("nan")
    A = A.to(device=device, dtype=dtype)
    U, S, V, info = tuned(A, "blocked", block=4, gemm_sweeps=gemm_sweeps)
    assert info.tolist() == [0, 0, 0, 2]
    contract = FP64 if dtype == torch.float64 else FP32
    assert_contract(A[:3], (U[:3], S[:3], V[:3]), contract, f"gemm_sweeps={gemm_sweeps}")
    assert U[3].isnan().all() and S[3].isnan().all() and V[3].isnan().all()


def test_blocked_singular_values_refined_in_float64(device):
    """Where the backend has float64, the blocked path replaces its float32 singular values by
    the float64 Rayleigh quotients ||A v_j|| / ||v_j||: after the 39 rounds a sweep of 2-column
    blocks takes, every value is then within one float32 ulp of sigma_max of LAPACK's (the
    column norms alone are off by a few)."""
    if device == "mps":
        pytest.skip("no float64 on mps")
    A = gaussian(96, 80, device=device, seed=1)
    ref = torch.linalg.svdvals(A.cpu().double())
    U, S, V, info = tuned(A, "blocked", block=2, refine_sigma=1)
    assert info.item() == 0
    error = ((S.cpu().double() - ref).abs().max() / ref[0]).item()
    assert error <= torch.finfo(torch.float32).eps, error
    assert_contract(A, (U, S, V), FP32)


def test_blocked_rotations_keep_v_orthogonal(device):
    """Each pair's rotation W is taken back to orthogonality (one polar step) before V is
    rotated by it: 128x128 in 16-column blocks, where every column of V meets some 15 W a sweep,
    V stays orthogonal to 8 ulps and the reconstruction to 12 (3 and 8 on the emulator;
    uncorrected, the drift of W, tens of ulps each, left them at 14 and 21)."""
    A = gaussian(128, 128, device=device, seed=3)
    U, S, V, info = tuned(A, "blocked", block=16)
    assert info.item() == 0
    errors = svd_errors(A, U, S, V)
    ulp = torch.finfo(torch.float32).eps
    assert errors.v_orthogonality <= 8 * ulp, errors
    assert errors.reconstruction <= 12 * ulp, errors
    assert_contract(A, (U, S, V), FP32)


def test_polish_sweeps_tighten_the_orthogonality_of_u(device):
    """After the pair test at sqrt(m) eps passes, polish sweeps sum the Gram entries in twice
    the precision and rotate pairs coupled by more than 4 eps: 128x128 in 16-column blocks, U
    orthogonal to 6 ulps (11 without; 4 with them on the emulator)."""
    A = gaussian(128, 128, device=device, seed=3)
    U, S, V, info = tuned(A, "blocked", block=16, polish_sweeps=2)
    assert info.item() == 0
    errors = svd_errors(A, U, S, V)
    assert errors.u_orthogonality <= 6 * torch.finfo(torch.float32).eps, errors
    assert_contract(A, (U, S, V), FP32)


def test_polish_sweeps_are_counted_not_converged(device):
    """The tight test may never pass, so polish sweeps end by count: a sweep cap that falls
    among them still reports convergence, and a cap before the normal test passes does not."""
    A = gaussian(64, 48, device=device, seed=4)
    needed = next(s for s in range(1, 31)
                  if tuned(A, "blocked", block=8, polish_sweeps=0, max_sweeps=s)[3].item() == 0)
    assert tuned(A, "blocked", block=8, polish_sweeps=0, max_sweeps=needed - 1)[3].item() == 1
    U, S, V, info = tuned(A, "blocked", block=8, polish_sweeps=8, max_sweeps=needed + 1)
    assert info.item() == 0
    assert_contract(A, (U, S, V), FP32)


@pytest.mark.parametrize("polish_sweeps", [-2, 9])
def test_polish_sweeps_out_of_range_are_refused(polish_sweeps):
    with pytest.raises(ValueError, match="polish_sweeps"):
        tuned(gaussian(40, 30, device="cpu"), "blocked", polish_sweeps=polish_sweeps)


def test_refinement_is_refused_where_it_cannot_run(device):
    with pytest.raises(ValueError, match="float32 input"):
        tuned(gaussian(40, 30, device=device, dtype=torch.float64), "blocked", refine_sigma=1)


@pytest.mark.parametrize("shape", [(200, 20), (90, 45), (64, 8)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_qr_preconditioned(device, shape):
    A = gaussian(2, *shape, device=device, seed=3)
    U, S, V, info = tuned(A, "qr")
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"{shape}")


# Rows of the QR's tiles: the plan's, nodes of two children (a deep tree), of three.
@pytest.mark.parametrize("rows", [0, 64, 96], ids=lambda r: f"rows{r}")
@pytest.mark.parametrize("full_matrices", [False, True])
def test_qr_panels_over_tile_trees(device, full_matrices, rows):
    """Tall Householder panels factored by a tree of tiles: a full and a partial panel, a zero
    column (no reflector) and a dependent column."""
    A = gaussian(2, 1300, 40, device=device, seed=8, dtype=torch.float64)
    A[1, :, 5] = 0
    A[1, :, 9] = 0.5 * A[1, :, 2]
    A = A.float()
    U, S, V, info = tuned(A, "qr", full_matrices=full_matrices, qr_rows=rows)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"full_matrices={full_matrices} rows {rows}")
    if full_matrices:
        Ud = U.cpu().double()
        assert (Ud.mT @ Ud - torch.eye(1300, dtype=torch.float64)).abs().amax() < 1e-5


def test_qr_with_blocked_r(small_threadgroup_memory):
    """With 4 KiB neither the fused kernel nor the divide and conquer fit: R is factored by the
    blocked Jacobi."""
    A = gaussian(2, 120, 40, device="cpu", seed=4)
    U, S, V, info = metalsvd.svd_ex(A)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32)


@pytest.mark.parametrize("algorithm", ["jacobi", "blocked", "qr", "dc"])
@pytest.mark.parametrize("shape", [(30, 12), (12, 30)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_full_matrices_every_path(device, algorithm, shape):
    A = gaussian(2, *shape, device=device, seed=6)
    U, S, V, info = tuned(A, algorithm, full_matrices=True, block=4)
    m, n = shape
    assert U.shape == (2, m, m) and V.shape == (2, n, n) and S.shape == (2, min(m, n))
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, algorithm)
    # The completed columns: orthonormal, and orthogonal to the range of A.
    eye_m = torch.eye(m, dtype=torch.float64)
    eye_n = torch.eye(n, dtype=torch.float64)
    Ud, Vd = U.cpu().double(), V.cpu().double()
    assert (Ud.mT @ Ud - eye_m).abs().amax() < 1e-5
    assert (Vd.mT @ Vd - eye_n).abs().amax() < 1e-5


@pytest.mark.parametrize("kind", ["rank_deficient", "zero_block", "graded"])
def test_matrix_classes(device, kind):
    n = 36
    A = gaussian(48, n, device=device, seed=7).double()
    if kind == "rank_deficient":
        A = A[:, :10] @ gaussian(10, n, device=device, seed=8).double()
    elif kind == "zero_block":
        A[:, 8:16] = 0
    else:
        A = with_singular_values(
            48, n, graded_spectrum(n, 6), torch.Generator().manual_seed(9)
        ).to(device)
    A = A.float()
    for algorithm in ("blocked", "qr", "dc"):
        U, S, V, info = tuned(A, algorithm, block=4, dc_gemm_rows=8)
        assert info.item() == 0, algorithm
        assert_contract(A, (U, S, V), FP32, f"{kind} {algorithm}")


@pytest.mark.parametrize("algorithm", ["blocked", "qr", "dc"])
def test_float64(device, algorithm):
    A = gaussian(2, 50, 30, device=device, seed=10, dtype=torch.float64)
    U, S, V, info = tuned(A, algorithm, block=4, dc_gemm_rows=8)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP64, algorithm)


@pytest.mark.parametrize("algorithm", ["blocked", "dc"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(device, dtype, algorithm):
    A = gaussian(40, 30, device=device, seed=11, dtype=dtype)
    U, S, V, info = tuned(A, algorithm, block=4)
    assert U.dtype == dtype and info.item() == 0
    assert_contract(A, (U, S, V), CONTRACT[dtype])


@pytest.mark.parametrize("algorithm", ["blocked", "qr", "dc"])
def test_non_finite_input(device, algorithm):
    A = gaussian(3, 30, 20, device=device, seed=12)
    A[1, 3, 4] = math.nan
    A[2, 0, 0] = -math.inf
    U, S, V, info = tuned(A, algorithm, full_matrices=True, block=4)
    assert info.tolist() == [0, 2, 2]
    for b in (1, 2):
        assert S[b].isnan().all() and U[b].isnan().all() and V[b].isnan().all()
    assert_contract(A[0], (U[0], S[0], V[0]), FP32, "finite neighbour")


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (1, 50), (50, 1), (37, 23), (65536, 8), (8, 65536), (100, 100), (300, 100)],
    ids=lambda s: f"{s[0]}x{s[1]}",
)
def test_shape_classes_automatic(device, shape):
    A = gaussian(*shape, device=device, seed=13)
    U, S, V, info = metalsvd.svd_ex(A)
    k = min(shape)
    assert U.shape == (shape[0], k) and V.shape == (shape[1], k) and S.shape == (k,)
    assert info.item() == 0
    assert_contract(A, (U, S, V), FP32, f"{shape}")


def test_empty_batch_and_full_matrices_of_empty(device):
    U, S, V = metalsvd.svd(torch.empty(0, 5, 3, device=device), full_matrices=True)
    assert U.shape == (0, 5, 5) and S.shape == (0, 3) and V.shape == (0, 3, 3)
    U, S, V, info = tuned(torch.empty(4, 0, device=device), "auto", full_matrices=True)
    assert U.shape == (4, 4) and S.shape == (0,) and V.shape == (0, 0)
    assert torch.equal(U.cpu(), torch.eye(4))


def test_unknown_algorithm_is_a_clear_error(device):
    with pytest.raises(ValueError, match="algorithm must be"):
        tuned(torch.ones(3, 3, device=device), "lapack")


def test_forcing_dc_beyond_its_limit_names_the_limit(small_threadgroup_memory):
    with pytest.raises(NotImplementedError, match="threadgroup memory"):
        tuned(torch.ones(64, 64), "dc")


def test_forcing_the_fused_kernel_beyond_its_limit_names_the_limit(small_threadgroup_memory):
    with pytest.raises(ValueError, match="threadgroup memory"):
        tuned(torch.ones(64, 64), "jacobi")


@pytest.mark.parametrize("algorithm", ["auto", "jacobi", "blocked", "qr", "dc"])
def test_public_algorithm_argument(device, algorithm):
    A = gaussian(2, 24, 10, device=device, seed=14)
    U, S, V = metalsvd.svd(A, algorithm=algorithm)
    assert_contract(A, (U, S, V), FP32, algorithm)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        metalsvd.svd(A, algorithm="gesvd")


def test_public_algorithm_argument_keeps_gradients():
    A = gaussian(12, 6, device="cpu", seed=15, dtype=torch.float64).requires_grad_()
    U, S, V = metalsvd.svd(A, algorithm="blocked")
    S.sum().backward()
    # d(sum sigma)/dA = U V^T, PyTorch's formula through the blocked factors.
    torch.testing.assert_close(A.grad, (U @ V.mT).detach(), rtol=1e-10, atol=1e-10)


# The divide and conquer after the two-stage bidiagonalisation (band reduction, bulge chasing,
# both stages' reflectors applied back), forced: tall, square, wide, after the QR, batched,
# full_matrices, tiles of 64 rows.
@pytest.mark.parametrize("algorithm, shape, full_matrices, qr_rows", [
    ("dc", (150, 120), False, 0), ("dc", (2, 97, 97), False, 64), ("dc", (70, 110), True, 0),
    ("qr", (300, 100), True, 0), ("dc", (40, 33), False, 0),
], ids=str)
def test_two_stage(device, algorithm, shape, full_matrices, qr_rows):
    A = gaussian(*shape, device=device, seed=15)
    U, S, V, info = tuned(A, algorithm, full_matrices=full_matrices, qr_rows=qr_rows,
                          two_stage=1)
    assert bool((info == 0).all())
    assert_contract(A, (U[..., :S.shape[-1]], S, V[..., :S.shape[-1]]), FP32, "two stages")
    if full_matrices:
        for Q in (U, V):
            Qd = Q.cpu().double()
            eye = torch.eye(Qd.shape[-1], dtype=torch.float64)
            assert (Qd.mT @ Qd - eye).abs().amax() < 1e-5


@pytest.mark.parametrize("kind", ["rank_deficient", "zero", "float64"])
def test_two_stage_matrix_classes(device, kind):
    if kind == "float64":
        A = gaussian(2, 90, 70, device=device, dtype=torch.float64, seed=16)
        U, S, V, info = tuned(A, "dc", two_stage=1)
        assert_contract(A, (U, S, V), FP64, kind)
        return
    A = gaussian(2, 100, 80, device=device, seed=17)
    if kind == "zero":
        A.zero_()
    else:
        A[:, :, 40:] = A[:, :, :40] @ gaussian(40, 40, device=device, seed=18) * 0.1
    U, S, V, info = tuned(A, "dc", two_stage=1)
    assert bool((info == 0).all())
    assert_contract(A, (U, S, V), FP32, kind)


@pytest.mark.parametrize("knob", [dict(dc_gemm_rows=-1), dict(dc_threads=384),
                                  dict(dc_groups=-1), dict(dc_tail=-2), dict(dc_tail=1025),
                                  dict(qr_rows=63), dict(qr_rows=1025),
                                  dict(two_stage=2)])
def test_knobs_out_of_range_are_refused(knob):
    with pytest.raises(ValueError, match=next(iter(knob))):
        tuned(gaussian(40, 30, device="cpu"), "dc", **knob)


@pytest.mark.parametrize("tail", [0, 64, 1024], ids=["gemv", "tail-64", "tail-all"])
@pytest.mark.parametrize("shape", [(150, 100), (2, 70, 70), (40, 90)],
                         ids=["150x100", "2x70x70", "40x90"])
def test_dc_tail(device, shape, tail):
    """The bidiagonalisation's one-group tail from wherever it first fits the threadgroup memory
    (1024: the whole matrix where it fits), from a later panel boundary (64: 150x100 from column
    64, 70x70 from 32, 40x90 reduced as its 90x40 transpose all of it) or not at all, against
    LAPACK."""
    A = gaussian(*shape, device=device, seed=23)
    U, S, V, info = tuned(A, "dc", dc_tail=tail)
    assert (info == 0).all()
    assert_contract(A, (U, S, V), FP32, f"{shape} tail {tail}")


@pytest.mark.parametrize("tail", [0, 30, -1], ids=["gemv", "tail-after-a-panel", "plan"])
def test_dc_under_shuffled_schedules(emulator_seed, tail):
    """Bidiagonalisation (two panels; with tail 30 the second is bidiagonal_tail's, with the
    plan's all of it) and divide and conquer, the top levels' vectors by GEMM, a batch with a
    rank-deficient matrix beside a Gaussian one, under shuffled schedules."""
    A = gaussian(2, 60, 40, device="cpu", seed=emulator_seed)
    A[1, :, 20:] = A[1, :, :20] @ gaussian(20, 20, device="cpu", seed=emulator_seed + 1) / 5
    U, S, V, info = tuned(A, "dc", full_matrices=True, dc_gemm_rows=8, dc_tail=tail)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"dc tail {tail} seed {emulator_seed}")


def test_qr_path_and_completion_under_shuffled_schedules(emulator_seed):
    """Householder panels, the QR path and the basis completion under shuffled schedules."""
    A = gaussian(2, 70, 20, device="cpu", seed=emulator_seed)
    U, S, V, info = tuned(A, "qr", full_matrices=True)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"qr seed {emulator_seed}")
    U, S, V, info = tuned(A, "blocked", full_matrices=True, block=4)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"blocked seed {emulator_seed}")


@pytest.mark.skipif(not torch.cuda.is_available() or "cuda" not in metalsvd.built_backends(),
                    reason="needs the cuda backend")
@pytest.mark.parametrize("algorithm,shape", [("dc", (300, 200)), ("dc", (130, 70)),
                                             ("dc", (1100, 900)), ("qr", (1300, 40)),
                                             ("blocked", (260, 200))])
def test_cuda_overlapped_launches_give_the_serial_result(monkeypatch, algorithm, shape):
    """Each kernel waits for the previous one before it touches memory that kernel writes (the
    one-stage bidiagonalisation's loads its trailing matrix before), so launching it while the
    previous one runs (compute capability 9.0 on) changes no result, not even in the last bit;
    METALSVD_CUDA_OVERLAP=0 launches them one after another."""
    A = gaussian(3, *shape, device="cuda", seed=21)
    monkeypatch.setenv("METALSVD_CUDA_OVERLAP", "0")
    serial = tuned(A, algorithm)
    monkeypatch.setenv("METALSVD_CUDA_OVERLAP", "1")
    overlapped = tuned(A, algorithm)
    assert overlapped[3].tolist() == [0, 0, 0]
    for name, a, b in zip("USV", serial[:3], overlapped[:3]):
        assert torch.equal(a, b), f"{name} differs with overlapped launches"
    assert_contract(A, overlapped[:3], FP32, f"{algorithm} {shape}")


RESIDENT_KERNELS = {"bidiagonal_resident", "bidiagonal_resident_narrow"}


def cuda_kernels_run(call):
    """The names of the metalsvd kernels (kernels::name<...>) that `call` runs on the GPU."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        result = call()
        torch.cuda.synchronize()
    names = set()
    for event in prof.key_averages():
        names.update(re.findall(r"metalsvd::kernels::(\w+)<", event.key))
    return result, names


@pytest.mark.skipif(not torch.cuda.is_available() or "cuda" not in metalsvd.built_backends(),
                    reason="needs the cuda backend")
@pytest.mark.parametrize("algorithm,shape", [("dc", (1, 1024, 1024)), ("dc", (3, 300, 200)),
                                             ("dc", (2, 1000, 700)), ("dc", (1, 130, 70)),
                                             ("qr", (1, 16384, 256))])
def test_cuda_resident_reduction(algorithm, shape):
    """Asked for (dc_resident=1), a float32 matrix of up to 1024 rows (16384x256: the R of its
    QR, through algorithm "qr") is bidiagonalised in one cooperative launch with the matrix in
    its groups' registers (bidiagonal_resident) instead of the column and row launches and the
    tail (dc_resident=0), in its narrow form (more registers a thread) up to 512 rows. It meets
    the contract, and its singular values agree with the launches' to within twice its error."""
    launch_kernels = {"bidiagonal_column", "bidiagonal_row", "bidiagonal_tail"}
    A = gaussian(*shape, device="cuda", seed=29)
    launches, names = cuda_kernels_run(lambda: tuned(A, algorithm, dc_resident=0))
    assert not names & RESIDENT_KERNELS and names & launch_kernels
    resident, names = cuda_kernels_run(lambda: tuned(A, algorithm, dc_resident=1))
    rows = shape[-1] if algorithm == "qr" else max(shape[-2:])  # qr: its R, n x n
    expected = "bidiagonal_resident_narrow" if rows <= 512 else "bidiagonal_resident"
    assert names & RESIDENT_KERNELS == {expected} and not names & launch_kernels
    assert resident[3].tolist() == [0] * shape[0]
    assert_contract(A, resident[:3], FP32, f"resident {shape}")
    scale = launches[1][..., :1]
    assert ((resident[1] - launches[1]).abs() / scale).max().item() <= 2 * FP32["sigma"]


@pytest.mark.skipif(not torch.cuda.is_available() or "cuda" not in metalsvd.built_backends(),
                    reason="needs the cuda backend")
@pytest.mark.parametrize("shape,resident", [((512, 512), True), ((2, 400, 300), True),
                                            ((300, 500), True), ((513, 400), False),
                                            ((1024, 1024), False)])
def test_cuda_plan_takes_the_resident_reduction_up_to_512_rows(shape, resident):
    """The plan bidiagonalises a float32 matrix in one launch (bidiagonal_resident) where it has
    at most 512 rows (a wide one: its transpose's), and through the launches beyond, where they
    were measured faster; either way the result meets the contract."""
    A = gaussian(*shape, device="cuda", seed=31)
    (U, S, V, info), names = cuda_kernels_run(lambda: tuned(A, "dc"))
    assert names & RESIDENT_KERNELS == ({"bidiagonal_resident_narrow"} if resident else set()), \
        sorted(names)
    assert (info == 0).all()
    assert_contract(A, (U, S, V), FP32, f"plan {shape}")


def test_dc_resident_on_the_emulator_takes_the_launches(emulator_seed):
    """The emulator, like Metal, offers no grid barriers to the extension: dc_resident=1 then
    takes the launches, and the result meets the contract."""
    A = gaussian(2, 90, 70, device="cpu", seed=emulator_seed)
    U, S, V, info = tuned(A, "dc", dc_resident=1)
    assert info.tolist() == [0, 0]
    assert_contract(A, (U, S, V), FP32, f"dc_resident 1 seed {emulator_seed}")

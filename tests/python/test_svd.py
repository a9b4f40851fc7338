"""metalsvd.svd on every device of this build, against LAPACK in float64."""

import math

import pytest
import torch

import metalsvd
from reference import (
    CONTRACT, FP32, assert_contract, gaussian, graded_spectrum, with_singular_values,
)


SHAPES = [(1, 1), (2, 2), (7, 1), (1, 7), (5, 3), (3, 5), (16, 16), (33, 17), (17, 33), (40, 40)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gaussian_shapes(device, shape):
    A = gaussian(3, *shape, device=device)
    result = metalsvd.svd(A)
    k = min(shape)
    assert result.U.shape == (3, shape[0], k)
    assert result.S.shape == (3, k)
    assert result.V.shape == (3, shape[1], k)
    assert result.U.device == A.device and result.S.dtype == A.dtype
    assert_contract(A, result, FP32, f"{shape}")


def test_kernel_under_shuffled_schedules(emulator_seed):
    # Missing barriers show up as wrong results under some schedule.
    A = gaussian(2, 24, 20, device="cpu", seed=emulator_seed)
    assert_contract(A, metalsvd.svd(A), FP32, f"seed {emulator_seed}")


def test_largest_metal_size_64x64(device):
    A = gaussian(2, 64, 64, device=device, seed=1)
    assert_contract(A, metalsvd.svd(A), FP32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("shape", [(128, 128), (256, 96), (96, 256), (150, 150)])
def test_cuda_sizes_beyond_metal(shape):
    A = gaussian(4, *shape, device="cuda", seed=2)
    assert_contract(A, metalsvd.svd(A), FP32, f"{shape}")


def test_batch_dimensions_and_strides(device):
    A = gaussian(2, 3, 12, 9, device=device, seed=3)
    result = metalsvd.svd(A)
    assert result.U.shape == (2, 3, 12, 9) and result.V.shape == (2, 3, 9, 9)
    assert_contract(A, result, FP32)
    # Non-contiguous views: a transpose and a strided slice.
    At = A.transpose(-2, -1)
    assert_contract(At, metalsvd.svd(At), FP32, "transposed view")
    sliced = gaussian(4, 30, 20, device=device, seed=4)[::2, ::3, 1::2]
    assert_contract(sliced, metalsvd.svd(sliced), FP32, "strided slice")


@pytest.mark.parametrize("kind", ["graded", "rank_deficient", "repeated", "zero", "identity"])
def test_matrix_classes(device, kind):
    g = torch.Generator().manual_seed(5)
    if kind == "graded":
        A = with_singular_values(32, 24, graded_spectrum(24, 6), g)
    elif kind == "rank_deficient":
        s = torch.zeros(20, dtype=torch.float64)
        s[:8] = graded_spectrum(8, 2)
        A = with_singular_values(28, 20, s, g)
    elif kind == "repeated":
        s = torch.tensor([3.0, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5])
        A = with_singular_values(16, 16, s, g)
    elif kind == "zero":
        A = torch.zeros(9, 5, dtype=torch.float64)
    else:
        A = torch.eye(10, dtype=torch.float64)
    A = A.float().to(device)
    result = metalsvd.svd(A)
    assert_contract(A, result, FP32, kind)
    if kind == "zero":
        assert (result.S == 0).all()


def test_column_graded_matrix_keeps_relative_accuracy(device):
    # A = B D, B well conditioned, D graded over six decades: one-sided Jacobi gets each small
    # singular value to high relative accuracy; methods based on bidiagonalisation only to
    # eps * sigma_max, which here would allow relative errors near 1e-1.
    g = torch.Generator().manual_seed(6)
    B = with_singular_values(32, 24, torch.linspace(2, 1, 24, dtype=torch.float64), g)
    A = (B @ torch.diag(graded_spectrum(24, 6))).float()
    S = metalsvd.svd(A.to(device)).S.cpu().double()
    ref = torch.linalg.svdvals(A.double())
    assert ((S - ref).abs() / ref).max().item() <= 2e-5


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_extreme_scales(device, scale):
    A = gaussian(12, 12, device=device, seed=7) * scale
    assert_contract(A, metalsvd.svd(A), FP32, f"scale {scale}")


def test_float64(device):
    for shape in [(20, 12), (12, 20), (31, 31)]:
        A = gaussian(2, *shape, device=device, dtype=torch.float64, seed=8)
        assert_contract(A, metalsvd.svd(A), CONTRACT[torch.float64], f"{shape}")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computes_in_fp32(device, dtype):
    A = gaussian(2, 24, 16, device=device, dtype=dtype, seed=9)
    result = metalsvd.svd(A)
    assert result.U.dtype == dtype and result.S.dtype == dtype and result.V.dtype == dtype
    assert_contract(A, result, CONTRACT[dtype], str(dtype))


def test_full_matrices(device):
    A = gaussian(6, 6, device=device, seed=10)
    result = metalsvd.svd(A, full_matrices=True)
    assert result.U.shape == (6, 6) and result.V.shape == (6, 6)
    assert_contract(A, result, FP32)


def test_non_finite_input_gives_nan_and_info(device):
    A = gaussian(3, 8, 8, device=device, seed=11)
    A[1, 3, 4] = math.nan
    A[2, 0, 0] = math.inf
    U, S, V, info = metalsvd.svd_ex(A)
    assert info.tolist() == [0, 2, 2]
    for b in (1, 2):
        assert S[b].isnan().all() and U[b].isnan().all() and V[b].isnan().all()
    assert_contract(A[0], (U[0], S[0], V[0]), FP32, "finite neighbour")


def test_empty_inputs(device):
    for shape, k in [((0, 4, 3), 3), ((2, 0, 3), 0), ((2, 3, 0), 0)]:
        U, S, V = metalsvd.svd(torch.empty(shape, device=device))
        assert U.shape == (*shape[:-1], k) and S.shape == (shape[0], k)
        assert V.shape == (shape[0], shape[-1], k)


def test_bad_input_raises_clear_errors(device):
    with pytest.raises(TypeError, match="torch.int64"):
        metalsvd.svd(torch.ones(3, 3, dtype=torch.int64, device=device))
    with pytest.raises(TypeError, match="complex64"):
        metalsvd.svd(torch.ones(3, 3, dtype=torch.complex64, device=device))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        metalsvd.svd(torch.ones(3, device=device))
    with pytest.raises(TypeError, match="torch.bool"):
        metalsvd.svd(torch.ones(3, 3, dtype=torch.bool, device=device))
    with pytest.raises(TypeError, match="torch.Tensor"):
        metalsvd.svd([[1.0, 2.0], [3.0, 4.0]])


def test_a_device_without_a_backend_is_a_clear_error():
    # The meta device stands for any device this build has no backend for.
    A = torch.empty(8, 6, device="meta")
    for call in (metalsvd.svd, metalsvd.svd_ex, lambda A: metalsvd.randomized_svd(A, 2),
                 lambda A: metalsvd.lanczos_svd(A, 2)):
        with pytest.raises(NotImplementedError, match="no meta backend .built: cpu"):
            call(A)


def test_operator_is_registered_with_the_dispatcher():
    assert hasattr(torch.ops.metalsvd, "svd_ex")
    U, S, V, info = torch.ops.metalsvd.svd_ex(torch.randn(4, 3), False)
    assert info.dtype == torch.int32 and S.shape == (3,)


def test_built_backends_and_best_device():
    built = metalsvd.built_backends()
    assert "cpu" in built
    assert metalsvd.best_device().type in built
    if torch.cuda.is_available() and "cuda" in built:
        assert metalsvd.best_device().type == "cuda"


def test_emulator_options_round_trip():
    previous = metalsvd.set_emulator_options(schedule_seed=5, threadgroup_memory_bytes=65536)
    try:
        assert metalsvd.emulator_options() == (5, 65536, previous.host_threads)
        # More threadgroup memory lets the emulator take what a bigger GPU would.
        A = torch.randn(90, 90, generator=torch.Generator().manual_seed(12))
        assert_contract(A, metalsvd.svd(A), FP32, "90x90 with 64 KiB")
    finally:
        metalsvd.set_emulator_options(*previous)
    with pytest.raises(ValueError):
        metalsvd.set_emulator_options(schedule_seed=-1)


@pytest.mark.parametrize("sweeps", [1, 2], ids=["pairwise", "warp_blocks"])
@pytest.mark.parametrize("shape", [(40, 40), (64, 33), (20, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_both_sweep_strategies(device, sweeps, shape):
    # The plan picks one strategy per shape; the private operator forces each on the same input.
    A = gaussian(3, *shape, device=device, seed=13)
    U, S, V, info = torch.ops.metalsvd._svd_ex_with_tuning(A, False, sweeps, 0)
    assert (info == 0).all()
    assert_contract(A, (U, S, V), FP32, f"sweeps {sweeps}")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("sweeps", [1, 2], ids=["pairwise", "warp_blocks"])
def test_cuda_both_sweep_strategies_at_128(sweeps):
    A = gaussian(4, 128, 128, device="cuda", seed=14)
    U, S, V, info = torch.ops.metalsvd._svd_ex_with_tuning(A, False, sweeps, 0)
    assert (info == 0).all()
    assert_contract(A, (U, S, V), FP32, f"sweeps {sweeps}")

"""The singular values alone (metalsvd.svdvals, and compute_uv=False through patch_torch):
every path and shape class against LAPACK in float64, input checks, autograd, compile."""

import pytest
import torch

import metalsvd
from reference import CONTRACT, gaussian, graded_spectrum, with_singular_values


def reference_values(A):
    return torch.linalg.svdvals(A.detach().cpu().double())


def assert_values(A, S, tol, what=""):
    """S within tol * sigma_max of LAPACK's values of A, descending and non-negative."""
    ref = reference_values(A)
    assert S.shape == ref.shape, what
    assert S.dtype == A.dtype and S.device == A.device, what
    S = S.detach().cpu().double()
    if S.numel() == 0:
        return
    smax = ref[..., :1].clamp_min(torch.finfo(torch.float64).tiny)
    error = ((S - ref).abs() / smax).amax().item()
    assert error <= tol, f"{what}: sigma error {error:.3g} > {tol}"
    assert bool((S >= 0).all()) and bool((S[..., :-1] >= S[..., 1:]).all()), what


# The fused kernel holds the whole matrix: not 130x40.
@pytest.mark.parametrize("algorithm, shape", [
    (algorithm, shape)
    for algorithm in ["auto", "jacobi", "blocked", "qr", "dc"]
    for shape in [(3, 40, 24), (24, 40), (130, 40)]
    if algorithm != "jacobi" or shape[-2] <= 100
], ids=str)
def test_every_path(device, algorithm, shape):
    A = gaussian(*shape, device=device, seed=1)
    assert_values(A, metalsvd.svdvals(A, algorithm=algorithm), CONTRACT[torch.float32]["sigma"],
                  algorithm)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (0, 4, 4), (4, 0), (5, 130),
                                   (131, 67), (2, 2, 70, 70)], ids=str)
def test_shape_classes(device, shape):
    A = gaussian(*shape, device=device, seed=2)
    assert_values(A, metalsvd.svdvals(A), CONTRACT[torch.float32]["sigma"], str(shape))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("algorithm", ["auto", "dc"])
def test_dtypes(device, dtype, algorithm):
    A = gaussian(2, 80, 60, device=device, dtype=dtype, seed=3)
    assert_values(A, metalsvd.svdvals(A, algorithm=algorithm), CONTRACT[dtype]["sigma"],
                  str(dtype))


def class_spectrum(kind, n, g):
    """n singular values of a matrix class: half zero, graded over 6 decades, all zero, or three
    values repeated."""
    third = n // 3
    return {
        "rank_deficient": torch.cat([torch.rand(n // 2, generator=g, dtype=torch.float64) + 1,
                                     torch.zeros(n - n // 2, dtype=torch.float64)]),
        "graded": graded_spectrum(n, 6),
        "zero": torch.zeros(n, dtype=torch.float64),
        "repeated": torch.tensor([3.0] * (n - 2 * third) + [2.0] * third + [1.0] * third,
                                 dtype=torch.float64),
    }[kind]


@pytest.mark.parametrize("kind", ["rank_deficient", "graded", "zero", "repeated"])
def test_matrix_classes_through_dc(device, kind):
    g = torch.Generator().manual_seed(4)
    A = with_singular_values(90, 60, class_spectrum(kind, 60, g), g, dtype=torch.float32)
    A = A.to(device)
    S = metalsvd.svdvals(A, algorithm="dc")
    assert_values(A, S, CONTRACT[torch.float32]["sigma"], kind)
    if kind == "zero":
        assert bool((S == 0).all())


def two_stage_values(A, algorithm="dc", two_stage=1, qr_rows=0):
    S, info = torch.ops.metalsvd._svdvals_ex_with_tuning(A, algorithm, two_stage, qr_rows)
    assert bool((info == 0).all())
    return S


# The two-stage bidiagonalisation (band reduction, then bulge chasing), forced: tall, square and
# wide, after the QR (whose R it reduces), batched; tiles of 64 rows (trees of two children).
@pytest.mark.parametrize("algorithm, shape, qr_rows", [
    ("dc", (150, 120), 0), ("dc", (2, 97, 97), 64), ("dc", (70, 110), 0), ("qr", (300, 100), 0),
    ("dc", (40, 33), 0),
], ids=str)
def test_two_stage(device, algorithm, shape, qr_rows):
    A = gaussian(*shape, device=device, seed=11)
    S = two_stage_values(A, algorithm, qr_rows=qr_rows)
    assert_values(A, S, CONTRACT[torch.float32]["sigma"], "two stages")
    S_one = two_stage_values(A, algorithm, two_stage=0)
    assert_values(A, S_one, CONTRACT[torch.float32]["sigma"], "one stage")


@pytest.mark.parametrize("kind", ["rank_deficient", "graded", "zero", "repeated"])
def test_two_stage_matrix_classes(device, kind):
    g = torch.Generator().manual_seed(12)
    A = with_singular_values(130, 100, class_spectrum(kind, 100, g), g, dtype=torch.float32)
    A = A.to(device)
    S = two_stage_values(A)
    assert_values(A, S, CONTRACT[torch.float32]["sigma"], kind)
    if kind == "zero":
        assert bool((S == 0).all())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_two_stage_dtypes(device, dtype):
    A = gaussian(2, 90, 70, device=device, dtype=dtype, seed=13)
    tol = 1e-12 if dtype == torch.float64 else CONTRACT[dtype]["sigma"]
    assert_values(A, two_stage_values(A), tol, str(dtype))


def test_two_stage_non_finite_input(device):
    A = gaussian(3, 80, 70, device=device, seed=14)
    A[1, 2, 3] = float("nan")
    S, info = torch.ops.metalsvd._svdvals_ex_with_tuning(A, "dc", 1, 0)
    assert info.tolist() == [0, 2, 0]
    assert bool(torch.isnan(S[1]).all())
    assert_values(A[::2], S[::2], CONTRACT[torch.float32]["sigma"])


def test_two_stage_knobs_are_checked():
    with pytest.raises(ValueError, match="two_stage"):
        torch.ops.metalsvd._svdvals_ex_with_tuning(torch.ones(3, 3), "dc", 2, 0)
    with pytest.raises(ValueError, match="qr_rows"):
        torch.ops.metalsvd._svdvals_ex_with_tuning(torch.ones(3, 3), "dc", 1, 32)


def test_float64_to_1e12(device):
    A = gaussian(120, 100, device=device, dtype=torch.float64, seed=5)
    assert_values(A, metalsvd.svdvals(A, algorithm="dc"), 1e-12)


def test_matches_the_full_svd(device):
    A = gaussian(3, 70, 50, device=device, dtype=torch.float64, seed=6)
    _, S_full, _ = metalsvd.svd(A, algorithm="dc")
    S = metalsvd.svdvals(A, algorithm="dc")
    assert (S - S_full).abs().max().item() <= 1e-13 * S_full.max().item()


@pytest.mark.parametrize("algorithm", ["dc", "blocked", "qr"])
def test_non_finite_input(device, algorithm):
    A = gaussian(3, 48, 40, device=device, seed=7)
    A[1, 2, 3] = float("nan")
    A[2, 0, 0] = float("inf")
    S, info = metalsvd.svdvals_ex(A, algorithm=algorithm)
    assert info.tolist() == [0, 2, 2]
    assert bool(torch.isnan(S[1:]).all())
    assert_values(A[:1], S[:1], CONTRACT[torch.float32]["sigma"])


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="torch.Tensor"):
        metalsvd.svdvals([[1.0]])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        metalsvd.svdvals(torch.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        metalsvd.svdvals(torch.ones(3, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="algorithm"):
        metalsvd.svdvals(torch.ones(3, 3), algorithm="lapack")
    with pytest.raises(NotImplementedError, match="no meta backend"):
        metalsvd.svdvals(torch.ones(3, 3, device="meta"))


def test_gradient_is_torchs(device):
    A = gaussian(12, 9, device=device, dtype=torch.float64, seed=8).requires_grad_()
    S = metalsvd.svdvals(A)
    (S * torch.arange(1.0, 10.0, dtype=torch.float64, device=device)).sum().backward()
    B = A.detach().cpu().requires_grad_()
    (torch.linalg.svdvals(B) * torch.arange(1.0, 10.0, dtype=torch.float64)).sum().backward()
    assert torch.allclose(A.grad.cpu(), B.grad, atol=1e-10)


def test_under_compile_and_vmap(device):
    A = gaussian(4, 30, 20, device=device, seed=9)
    compiled = torch.compile(lambda x: metalsvd.svdvals(x, algorithm="dc"), fullgraph=True)
    assert_values(A, compiled(A), CONTRACT[torch.float32]["sigma"], "compile")
    vmapped = torch.func.vmap(lambda x: metalsvd.svdvals(x, algorithm="dc"))(A)
    assert_values(A, vmapped, CONTRACT[torch.float32]["sigma"], "vmap")


def test_patched_svdvals_and_norms(device):
    A = gaussian(2, 60, 45, device=device, seed=10)
    with metalsvd.patched(devices=(device.type,)):
        S = torch.linalg.svdvals(A)
        norm = torch.linalg.matrix_norm(A, ord=2)
        rank = torch.linalg.matrix_rank(A)
        cond = torch.linalg.cond(A)
    ref = reference_values(A)
    assert_values(A, S, CONTRACT[torch.float32]["sigma"], "svdvals")
    assert torch.allclose(norm.cpu().double(), ref[..., 0], rtol=1e-5)
    assert rank.tolist() == [45, 45]
    assert torch.allclose(cond.cpu().double(), ref[..., 0] / ref[..., -1], rtol=1e-4)

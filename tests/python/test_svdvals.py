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


@pytest.mark.parametrize("kind", ["rank_deficient", "graded", "zero", "repeated"])
def test_matrix_classes_through_dc(device, kind):
    g = torch.Generator().manual_seed(4)
    sigma = {
        "rank_deficient": torch.cat([torch.rand(30, generator=g, dtype=torch.float64) + 1,
                                     torch.zeros(30, dtype=torch.float64)]),
        "graded": graded_spectrum(60, 6),
        "zero": torch.zeros(60, dtype=torch.float64),
        "repeated": torch.tensor([3.0] * 20 + [2.0] * 20 + [1.0] * 20, dtype=torch.float64),
    }[kind]
    A = with_singular_values(90, 60, sigma, g, dtype=torch.float32).to(device)
    S = metalsvd.svdvals(A, algorithm="dc")
    assert_values(A, S, CONTRACT[torch.float32]["sigma"], kind)
    if kind == "zero":
        assert bool((S == 0).all())


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

"""metalsvd.randomized_svd and metalsvd.lanczos_svd against matrices of known spectrum
(U diag(s) V^T built in float64), torch.svd_lowrank and float64 LAPACK."""

import pytest
import torch

import metalsvd

SPECTRA = {
    "fast": lambda r: 0.7 ** torch.arange(r, dtype=torch.float64),
    "slow": lambda r: 1 / torch.arange(1, r + 1, dtype=torch.float64).sqrt(),
    # every singular value equal: the Krylov space is exhausted after one step (breakdown)
    "flat": lambda r: torch.ones(r, dtype=torch.float64),
}


def known_matrix(m, n, s, seed=0, batch=()):
    """float64 matrices U diag(s) V^T with Haar-random U, V and the given singular values."""
    g = torch.Generator().manual_seed(seed)
    r = s.shape[-1]
    U, _ = torch.linalg.qr(torch.randn(*batch, m, r, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(*batch, n, r, generator=g, dtype=torch.float64))
    return (U * s.unsqueeze(-2)) @ V.mT


def sigma_error(S, s, k):
    """max_i |S_i - s_i| / s_0 over the top k."""
    return ((S.detach().cpu().double() - s[..., :k]).abs().amax() / s.amax()).item()


def orthogonality(Q):
    Q = Q.detach().cpu().double()
    return (Q.mT @ Q - torch.eye(Q.shape[-1], dtype=torch.float64)).abs().amax().item()


def rayleigh_error(A, U, S, V):
    """|U^T A V - diag(S)|_max / s_max: the triplets are Ritz triplets of A."""
    A, U, S, V = (x.detach().cpu().double() for x in (A, U, S, V))
    return ((U.mT @ A @ V - torch.diag_embed(S)).abs().amax() / S.amax()).item()


def seeded(device, seed):
    return torch.Generator(device=device).manual_seed(seed)


@pytest.mark.parametrize("spectrum", ["fast", "slow", "flat"])
@pytest.mark.parametrize("shape", [(160, 96), (96, 160)], ids=["tall", "wide"])
def test_randomized_known_spectra(device, spectrum, shape):
    m, n = shape
    k = 8
    s = SPECTRA[spectrum](min(m, n))
    A = known_matrix(m, n, s, seed=1).float().to(device)
    U, S, V = metalsvd.randomized_svd(A, k, generator=seeded(device, 3))
    assert U.shape == (m, k) and S.shape == (k,) and V.shape == (n, k)
    assert U.device == A.device and U.dtype == torch.float32
    assert orthogonality(U) <= 2e-6 and orthogonality(V) <= 2e-6
    assert rayleigh_error(A, U, S, V) <= 2e-6
    assert bool((S[:-1] >= S[1:]).all())
    # Slow decay: (s_19 / s_8)^5 ~ 0.15 bounds the sketch's error; the others are exact.
    assert sigma_error(S, s, k) <= {"fast": 2e-6, "flat": 2e-6, "slow": 0.2}[spectrum]


@pytest.mark.parametrize("spectrum", ["fast", "slow"])
@pytest.mark.parametrize("n_iter", [0, 2])
def test_randomized_as_accurate_as_svd_lowrank(device, spectrum, n_iter):
    """Same k, oversampling, iterations and the same Gaussian test matrix (same seed, same
    layout): the error may not exceed torch.svd_lowrank's beyond rounding."""
    m, n, k, oversample = 160, 96, 8, 6
    s = SPECTRA[spectrum](n)
    A = known_matrix(m, n, s, seed=2).float().to(device)
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        _, S_ref, _ = torch.svd_lowrank(A, q=k + oversample, niter=n_iter)
        _, S, _ = metalsvd.randomized_svd(
            A, k, n_iter=n_iter, oversample=oversample, generator=seeded(device, seed)
        )
        ours, theirs = sigma_error(S, s, k), sigma_error(S_ref[:k], s, k)
        assert ours <= 1.05 * theirs + 1e-6, (seed, ours, theirs)


@pytest.mark.parametrize("spectrum", ["fast", "slow", "flat"])
@pytest.mark.parametrize("shape", [(160, 96), (96, 160)], ids=["tall", "wide"])
def test_lanczos_known_spectra(device, spectrum, shape):
    m, n = shape
    k = 8
    s = SPECTRA[spectrum](min(m, n))
    A = known_matrix(m, n, s, seed=4).float().to(device)
    U, S, V, residuals, info = metalsvd.lanczos_svd_ex(A, k)
    assert U.shape == (m, k) and S.shape == (k,) and V.shape == (n, k)
    assert residuals.shape == (k,) and info.shape == ()
    assert info.item() == 0
    tol = torch.finfo(torch.float32).eps ** 0.5
    assert residuals.max().item() <= tol * S[0].item()
    # The residuals are what they claim: ||A^T u_i - s_i v_i||.
    A64, U64, S64, V64 = (x.cpu().double() for x in (A, U, S, V))
    true_residuals = (A64.mT @ U64 - V64 * S64).norm(dim=0)
    assert torch.allclose(true_residuals, residuals.cpu().double(), rtol=0.05, atol=2e-6)
    assert orthogonality(U) <= 2e-6 and orthogonality(V) <= 2e-6
    assert rayleigh_error(A, U, S, V) <= 2e-6
    assert sigma_error(S, s, k) <= 2e-6


def test_lanczos_converges_where_randomized_does_not(device):
    """Slow decay: Lanczos reaches 1e-5 relative on the top 10, randomized with two power
    iterations does not."""
    m, n, k = 240, 160, 10
    s = SPECTRA["slow"](n)
    A = known_matrix(m, n, s, seed=5).float().to(device)
    _, S_lanczos, _ = metalsvd.lanczos_svd(A, k)
    _, S_random, _ = metalsvd.randomized_svd(A, k, n_iter=2, generator=seeded(device, 0))
    relative = lambda S: ((S.cpu().double() - s[:k]).abs() / s[:k]).max().item()  # noqa: E731
    assert relative(S_lanczos) <= 1e-5
    assert relative(S_random) > 1e-5


@pytest.mark.parametrize("function", ["randomized", "lanczos"])
def test_float64_to_full_accuracy(device, function):
    m, n, k = 120, 80, 6
    s = SPECTRA["fast"](n)
    A = known_matrix(m, n, s, seed=6).to(device)
    if function == "randomized":
        U, S, V = metalsvd.randomized_svd(A, k, generator=seeded(device, 1))
    else:
        U, S, V = metalsvd.lanczos_svd(A, k)
    assert S.dtype == torch.float64
    assert sigma_error(S, s, k) <= 1e-12
    assert orthogonality(U) <= 1e-12 and orthogonality(V) <= 1e-12


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("function", ["randomized", "lanczos"])
def test_16_bit_inputs(device, dtype, function):
    m, n, k = 96, 64, 5
    s = SPECTRA["fast"](n)
    A = known_matrix(m, n, s, seed=7).to(dtype).to(device)
    if function == "randomized":
        U, S, V = metalsvd.randomized_svd(A, k, generator=seeded(device, 1))
    else:
        U, S, V = metalsvd.lanczos_svd(A, k)
    assert U.dtype == S.dtype == V.dtype == dtype
    # Against the exact singular values of the rounded input (float64 LAPACK).
    reference = torch.linalg.svdvals(A.cpu().double())
    bound = 4e-3 if dtype == torch.float16 else 3e-2
    assert sigma_error(S, reference, k) <= bound
    assert orthogonality(U) <= bound and orthogonality(V) <= bound


def test_batches_converge_independently(device):
    """A batch mixing spectra: each matrix converges in its own number of restarts and the
    ones done first stay as they were."""
    m, n, k = 120, 72, 6
    spectra = torch.stack([SPECTRA[name](n) for name in ("fast", "slow", "flat")])
    A = known_matrix(m, n, spectra, seed=8, batch=(3,))
    A = torch.stack([A, A.flip(0)]).float().to(device)  # batch shape (2, 3)
    expected = torch.stack([spectra, spectra.flip(0)])
    U, S, V, residuals, info = metalsvd.lanczos_svd_ex(A, k)
    assert U.shape == (2, 3, m, k) and S.shape == (2, 3, k) and residuals.shape == (2, 3, k)
    assert bool((info == 0).all())
    U2, S2, V2 = metalsvd.randomized_svd(A, k, n_iter=4, generator=seeded(device, 0))
    for i in range(2):
        for j in range(3):
            assert sigma_error(S[i, j], expected[i, j], k) <= 2e-6
            assert orthogonality(U[i, j]) <= 2e-6 and orthogonality(V[i, j]) <= 2e-6
            assert rayleigh_error(A[i, j], U2[i, j], S2[i, j], V2[i, j]) <= 2e-6
    assert sigma_error(S2[0, 0], expected[0, 0], k) <= 2e-6


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_input_layouts(device, layout):
    """A column-major view is read in place, a strided one through a scaled copy."""
    m, n, k = 100, 70, 5
    s = SPECTRA["fast"](n) * 1e3
    base = known_matrix(n, m, s, seed=9).float().to(device)
    if layout == "transposed":
        A = base.mT
    else:
        wider = known_matrix(m, 2 * n, SPECTRA["fast"](m) * 1e3, seed=9)
        A = wider.float().to(device)[:, ::2]
    reference = torch.linalg.svdvals(A.cpu().double())
    for U, S, V in (
        metalsvd.randomized_svd(A, k, generator=seeded(device, 0)),
        metalsvd.lanczos_svd(A, k),
    ):
        assert sigma_error(S, reference, k) <= 2e-6
        assert orthogonality(U) <= 2e-6 and orthogonality(V) <= 2e-6


def test_rank_deficient_and_zero(device):
    """k beyond the rank: the Krylov space runs out; the extra directions are orthonormal
    and their singular values zero. A zero matrix gives zeros and orthonormal U, V."""
    m, n, k = 90, 60, 6
    s = torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    A = known_matrix(m, n, s, seed=10).float().to(device)
    for U, S, V in (
        metalsvd.randomized_svd(A, k, generator=seeded(device, 0)),
        metalsvd.lanczos_svd(A, k),
    ):
        assert sigma_error(S, torch.cat([s, torch.zeros(3, dtype=torch.float64)]), k) <= 2e-6
        assert orthogonality(U) <= 2e-6 and orthogonality(V) <= 2e-6
    Z = torch.zeros(m, n, device=device)
    for U, S, V in (
        metalsvd.randomized_svd(Z, 4, generator=seeded(device, 0)),
        metalsvd.lanczos_svd(Z, 4),
    ):
        assert bool((S == 0).all())
        assert orthogonality(U) <= 2e-6 and orthogonality(V) <= 2e-6


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_input(device, bad):
    clean = known_matrix(60, 40, SPECTRA["fast"](40), seed=11).float().to(device)
    A = torch.stack([clean, clean.clone()])
    A[1, 3, 5] = bad  # the second matrix of the batch only
    *_, info = metalsvd.lanczos_svd_ex(A, 4, n_iter=3)
    assert info.tolist() == [0, 2]
    U, S, V, info = metalsvd.randomized_svd_ex(A, 4)
    assert info.tolist() == [0, 2] and info.dtype == torch.int32
    assert bool(S[1].isnan().all()) and bool(U[1].isnan().all()) and bool(V[1].isnan().all())
    assert bool(S[0].isfinite().all())
    _, S, _ = metalsvd.randomized_svd(A, 4)
    assert bool(S[1].isnan().all())


@pytest.mark.parametrize("name", ["randomized_svd", "lanczos_svd", "randomized_svd_ex",
                                  "lanczos_svd_ex"])
def test_not_differentiable_raises_on_backward(name):
    A = known_matrix(60, 40, SPECTRA["fast"](40), seed=13).float().requires_grad_()
    outputs = getattr(metalsvd, name)(A, 4)
    U, S, V = outputs[:3]
    # Recorded as depending on A, so that backward cannot silently leave A without a gradient.
    assert S.requires_grad and U.requires_grad and V.requires_grad
    if name.endswith("_ex"):
        assert not outputs.info.requires_grad
    base = name.removesuffix("_ex")
    with pytest.raises(RuntimeError, match=f"metalsvd.{base}(_ex)? is not differentiable"):
        (S.sum() + U.sum()).backward()
    assert A.grad is None
    # The values are those of the same call without autograd.
    plain = getattr(metalsvd, name)(A.detach(), 4, generator=seeded("cpu", 1))
    again = getattr(metalsvd, name)(A, 4, generator=seeded("cpu", 1))
    assert torch.equal(plain.S, again.S.detach())
    with torch.no_grad():
        assert not getattr(metalsvd, name)(A, 4).S.requires_grad


def test_reproducible(device):
    A = known_matrix(80, 60, SPECTRA["slow"](60), seed=12).float().to(device)
    first = metalsvd.randomized_svd(A, 5, generator=seeded(device, 7))
    again = metalsvd.randomized_svd(A, 5, generator=seeded(device, 7))
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    first = metalsvd.lanczos_svd_ex(A, 5)
    again = metalsvd.lanczos_svd_ex(A, 5)
    assert all(torch.equal(x, y) for x, y in zip(first, again))


def test_n_iter_zero_is_one_cycle(device):
    """n_iter = 0: one Lanczos cycle, no restart, and info says it did not reach tol; with
    restarts it does, and the residuals reported are the true ones (float64)."""
    A = known_matrix(120, 90, SPECTRA["slow"](90), seed=13).to(device)
    *_, residuals, info = metalsvd.lanczos_svd_ex(A, 8, n_iter=0, tol=1e-12)
    assert info.item() == 1 and residuals.max().item() > 1e-12
    U, S, V, residuals, info = metalsvd.lanczos_svd_ex(A, 8, tol=1e-12)
    assert info.item() == 0 and residuals.max().item() <= 1e-12
    A64, U64, S64, V64 = (x.cpu() for x in (A, U, S, V))
    assert (A64.mT @ U64 - V64 * S64).norm(dim=0).max().item() <= 1e-13


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda A: metalsvd.randomized_svd(A, 0), ValueError, "k must be >= 1"),
        (lambda A: metalsvd.randomized_svd(A, 20), ValueError, "less than min"),
        (lambda A: metalsvd.lanczos_svd(A, 25), ValueError, "less than min"),
        (lambda A: metalsvd.randomized_svd(A, 2.0), TypeError, "k must be an int"),
        (lambda A: metalsvd.randomized_svd(A, 2, n_iter=-1), ValueError, "n_iter must be >= 0"),
        (lambda A: metalsvd.randomized_svd(A, 2, oversample=-1), ValueError, "oversample"),
        (lambda A: metalsvd.lanczos_svd(A, 2, n_iter=-1), ValueError, "n_iter must be >= 0"),
        (lambda A: metalsvd.lanczos_svd(A, 2, tol=0.0), ValueError, "tol must be in"),
        (lambda A: metalsvd.lanczos_svd(A, 2, tol=2.0), ValueError, "tol must be in"),
        (lambda A: metalsvd.lanczos_svd(A, 2, tol="x"), TypeError, "tol must be a float"),
        (lambda A: metalsvd.lanczos_svd(A, 2, generator=3), TypeError, "torch.Generator"),
        (lambda A: metalsvd.randomized_svd(A[0], 2), ValueError, "at least 2 dimensions"),
        (lambda A: metalsvd.lanczos_svd(A.long(), 2), TypeError, "floating-point"),
        (lambda A: metalsvd.randomized_svd(A.numpy(), 2), TypeError, "torch.Tensor"),
    ],
)
def test_bad_arguments(call, error, message):
    A = torch.randn(30, 20)
    with pytest.raises(error, match=message):
        call(A)


def test_kernels_under_shuffled_schedules(emulator_seed):
    """The truncated methods' kernels under shuffled emulator schedules (missing barriers)."""
    s = SPECTRA["fast"](60)
    A = known_matrix(90, 60, s, seed=emulator_seed).float()
    k = 5
    U, S, V = metalsvd.randomized_svd(A, k, generator=seeded("cpu", emulator_seed))
    assert sigma_error(S, s, k) <= 2e-6 and orthogonality(U) <= 2e-6
    U, S, V, residuals, info = metalsvd.lanczos_svd_ex(A, k)
    assert info.item() == 0 and sigma_error(S, s, k) <= 2e-6 and orthogonality(V) <= 2e-6

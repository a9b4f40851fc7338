"""patch_torch(): registration, semantics of torch.linalg.svd, autograd, vmap and compile.

References are PyTorch's own kernels (LAPACK on cpu), always computed while unpatched.
"""

import gc
import warnings

import pytest
import torch
import torch._dynamo
import torch.utils._pytree as pytree

import metalsvd
from conftest import DEVICES
from metalsvd import _patch

NOT_BUILT = [d for d in ("cpu", "cuda", "mps") if d not in metalsvd.built_backends()]


@pytest.fixture(autouse=True)
def _unpatched_after():
    # A failing test must not leave PyTorch patched for the tests after it.
    yield
    metalsvd.unpatch_torch()
    assert metalsvd.patched_devices() == ()


def matrix(*shape, device, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def kernel_calls(device):
    return _patch._kernel_calls[torch.device(device).type]


# --- registration ------------------------------------------------------------------------


def dispatcher_state():
    return {
        op: torch._C._dispatch_dump(op)
        for op in ("aten::_linalg_svd", "aten::_linalg_svd.U", "aten::linalg_svd")
    }


def test_unpatch_restores_the_dispatcher_exactly(device):
    before = dispatcher_state()
    A = matrix(4, 3, device=device)
    metalsvd.patch_torch(devices=(device.type,))
    assert dispatcher_state() != before
    calls = kernel_calls(device)
    torch.linalg.svdvals(A)
    assert kernel_calls(device) == calls + 1
    metalsvd.unpatch_torch()
    assert dispatcher_state() == before
    torch.linalg.svdvals(A)
    assert kernel_calls(device) == calls + 1


def test_patch_twice_is_harmless(device):
    before = dispatcher_state()
    assert metalsvd.patch_torch(devices=device.type) == (device.type,)
    patched = dispatcher_state()
    assert metalsvd.patch_torch(devices=[device]) == (device.type,)
    assert dispatcher_state() == patched
    calls = kernel_calls(device)
    torch.linalg.svdvals(matrix(3, 3, device=device))
    assert kernel_calls(device) == calls + 1
    assert metalsvd.unpatch_torch() == ()
    assert dispatcher_state() == before


def test_patched_context_nests_and_restores(device):
    before = dispatcher_state()
    with metalsvd.patched(devices=(device.type,)) as devices:
        assert devices == (device.type,)
        with metalsvd.patched(devices=(device.type,)):
            pass
        # The inner block found the device patched, so it leaves it patched.
        assert metalsvd.patched_devices() == (device.type,)
    assert metalsvd.patched_devices() == ()
    assert dispatcher_state() == before


def test_patched_context_restores_on_error(device):
    before = dispatcher_state()
    with pytest.raises(KeyError):
        with metalsvd.patched(devices=(device.type,)):
            raise KeyError("inside")
    assert dispatcher_state() == before


def test_bad_devices_are_refused():
    with pytest.raises(ValueError, match="not a device name"):
        metalsvd.patch_torch(devices=("gpu",))
    with pytest.raises(ValueError, match="no kernels for 'xpu'"):
        metalsvd.patch_torch(devices=("xpu",))
    with pytest.raises(ValueError, match="no devices"):
        metalsvd.patch_torch(devices=())
    for name in NOT_BUILT:
        with pytest.raises(ValueError, match=f"no '{name}' backend"):
            metalsvd.patch_torch(devices=(name,))
        with pytest.raises(ValueError, match=f"no '{name}' backend"):
            with metalsvd.patched(devices=(name,)):
                pass
    assert metalsvd.patched_devices() == ()


def profiled_ops(fn):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {event.name for event in prof.events()}


FAMILY = {
    "linalg.svd": lambda A: torch.linalg.svd(A),
    "linalg.svdvals": lambda A: torch.linalg.svdvals(A),
    "svd": lambda A: torch.svd(A),
    "pinv": lambda A: torch.linalg.pinv(A),
    "matrix_rank": lambda A: torch.linalg.matrix_rank(A),
    "matrix_norm 2": lambda A: torch.linalg.matrix_norm(A, ord=2),
    "matrix_norm -2": lambda A: torch.linalg.matrix_norm(A, ord=-2),
    "matrix_norm nuc": lambda A: torch.linalg.matrix_norm(A, ord="nuc"),
    "norm nuc": lambda A: torch.linalg.norm(A, ord="nuc", dim=(-2, -1)),
    "cond": lambda A: torch.linalg.cond(A),
}


# Those that need U and V; the rest ask for the values alone (compute_uv=False).
WITH_VECTORS = ("linalg.svd", "svd", "pinv")


@pytest.mark.parametrize("name", FAMILY)
def test_the_family_reaches_metalsvd(device, name):
    # The profiler records every operator the dispatcher runs: patched, the factorisation is
    # metalsvd's operator (the values-only one where no vectors are asked for); unpatched, it
    # is not.
    A = matrix(2, 6, 5, device=device)
    expected = FAMILY[name](A)
    ours = {"metalsvd::svd_ex", "metalsvd::svdvals_ex"}
    assert not ours & profiled_ops(lambda: FAMILY[name](A))
    with metalsvd.patched(devices=(device.type,)):
        ops = profiled_ops(lambda: FAMILY[name](A))
        actual = FAMILY[name](A)
    wanted = "metalsvd::svd_ex" if name in WITH_VECTORS else "metalsvd::svdvals_ex"
    assert ours & ops == {wanted} and "aten::_linalg_svd" in ops
    for a, e in zip(pytree.tree_flatten(actual)[0], pytree.tree_flatten(expected)[0]):
        if name in ("linalg.svd", "svd"):  # factors: compare what is unique
            a, e = a.abs(), e.abs()
        torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-9)


def test_other_devices_stay_on_pytorch(device):
    # Devices this machine has (a build may have a backend for a device that is absent).
    other = [d for d in DEVICES if d != device.type]
    with metalsvd.patched(devices=(device.type,)):
        for name in other:
            calls = kernel_calls(name)
            torch.linalg.svdvals(matrix(3, 3, device=name))
            assert kernel_calls(name) == calls


# --- semantics of torch.linalg.svd -------------------------------------------------------


def assert_same_layout(actual, expected):
    for name, a, e in zip(("U", "S", "Vh"), actual, expected):
        assert a.shape == e.shape, f"{name}: shape {a.shape} != {e.shape}"
        assert a.dtype == e.dtype and a.device == e.device, name
        assert a.stride() == e.stride(), f"{name}: strides {a.stride()} != {e.stride()}"


def assert_valid_svd(A, U, S, Vh, tol):
    """An SVD of A: S as LAPACK's, orthonormal U and Vh (full ones too), reconstruction."""
    A64, U, S, Vh = (x.double() for x in (A, U, S, Vh))
    k = S.shape[-1]
    ref = torch.linalg.svdvals(A64.cpu()).to(A.device)
    scale = max(1.0, ref.abs().amax().item()) if ref.numel() else 1.0
    torch.testing.assert_close(S, ref, rtol=0, atol=tol * scale)
    for Q in (U.mT, Vh):
        if Q.numel():
            eye = torch.eye(Q.shape[-2], dtype=Q.dtype, device=Q.device)
            torch.testing.assert_close(Q @ Q.mT, eye.expand_as(Q @ Q.mT), rtol=0, atol=tol)
    recon = U[..., :k] @ torch.diag_embed(S) @ Vh[..., :k, :]
    torch.testing.assert_close(recon, A64, rtol=0, atol=tol * scale)


SHAPES = [(5, 5), (6, 4), (4, 6), (3, 5, 4), (2, 3, 4, 6), (1, 1), (7, 1), (1, 7)]
EMPTY = [(0, 0), (0, 4), (4, 0), (0, 3, 3), (2, 0, 3), (2, 3, 0)]


@pytest.mark.parametrize("full_matrices", [False, True], ids=["thin", "full"])
@pytest.mark.parametrize("shape", SHAPES + EMPTY, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_linalg_svd_like_pytorch(device, shape, full_matrices, dtype):
    A = matrix(*shape, device=device, dtype=dtype, seed=len(shape))
    expected = torch.linalg.svd(A, full_matrices=full_matrices)
    with metalsvd.patched(devices=(device.type,)):
        actual = torch.linalg.svd(A, full_matrices=full_matrices)
    assert_same_layout(actual, expected)
    if A.numel() == 0:
        # PyTorch's answer for empty inputs is fixed (identity U / Vh where square): equal.
        for a, e in zip(actual, expected):
            assert torch.equal(a, e)
    else:
        assert_valid_svd(A, *actual, tol=1e-10 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize(
    "view",
    ["transposed", "strided", "permuted batch", "expanded"],
)
def test_non_contiguous_inputs(device, view):
    base = matrix(4, 6, 5, device=device, seed=3)
    A = {
        "transposed": base.mT,
        "strided": base[::2, ::2, 1:],
        "permuted batch": base.permute(1, 0, 2),
        "expanded": base[:1].expand(3, 6, 5),
    }[view]
    expected = torch.linalg.svd(A, full_matrices=False)
    with metalsvd.patched(devices=(device.type,)):
        calls = kernel_calls(device)
        actual = torch.linalg.svd(A, full_matrices=False)
        assert kernel_calls(device) == calls + 1
    assert_same_layout(actual, expected)
    assert_valid_svd(A, *actual, tol=1e-10)


@pytest.mark.parametrize("full_matrices", [False, True], ids=["thin", "full"])
def test_compute_uv_false_returns_empty_factors(device, full_matrices):
    A = matrix(3, 6, 4, device=device)
    expected = torch.ops.aten._linalg_svd(A, full_matrices, False)
    with metalsvd.patched(devices=(device.type,)):
        actual = torch.ops.aten._linalg_svd(A, full_matrices, False)
    assert_same_layout(actual, expected)
    assert actual[0].shape == (0,) and actual[2].shape == (0,)
    torch.testing.assert_close(actual[1], expected[1], rtol=1e-10, atol=1e-10)


def test_torch_svd_compute_uv_false(device):
    A = matrix(5, 3, device=device)
    expected = torch.svd(A, compute_uv=False)
    with metalsvd.patched(devices=(device.type,)):
        actual = torch.svd(A, compute_uv=False)
    assert_same_layout(actual, expected)
    torch.testing.assert_close(actual[1], expected[1], rtol=1e-10, atol=1e-10)
    assert not actual[0].any() and not actual[2].any()  # zeros, as PyTorch documents


def svd_outs(device, dtype=torch.float64, shapes=((0,), (0,), (0,))):
    return tuple(torch.empty(s, device=device, dtype=dtype) for s in shapes)


@pytest.mark.parametrize("full_matrices", [False, True], ids=["thin", "full"])
def test_out_variant_with_empty_outputs(device, full_matrices):
    A = matrix(2, 6, 4, device=device)
    expected = torch.linalg.svd(A, full_matrices=full_matrices, out=svd_outs(device))
    outs = svd_outs(device)
    with metalsvd.patched(devices=(device.type,)):
        calls = kernel_calls(device)
        result = torch.linalg.svd(A, full_matrices=full_matrices, out=outs)
        assert kernel_calls(device) == calls + 1
    assert all(r is o for r, o in zip(result, outs))
    assert_same_layout(outs, expected)
    assert_valid_svd(A, *outs, tol=1e-10)


def test_out_variant_keeps_the_strides_of_right_sized_outputs(device):
    A = matrix(6, 4, device=device)
    shapes = ((6, 4), (4,), (4, 4))
    # Right shapes, row-major layout: PyTorch writes into them as they are.
    U, S, Vh = (torch.empty(s, device=device, dtype=A.dtype) for s in shapes)
    with metalsvd.patched(devices=(device.type,)):
        torch.linalg.svd(A, full_matrices=False, out=(U, S, Vh))
    assert U.is_contiguous() and Vh.is_contiguous()
    assert_valid_svd(A, U, S, Vh, tol=1e-10)


def test_out_variant_resizes_with_pytorch_warning(device):
    A = matrix(5, 3, device=device)
    wrong = ((2, 2), (7,), (1, 1))
    with pytest.warns(UserWarning, match="was resized") as expected_warnings:
        expected = torch.linalg.svd(A, out=svd_outs(device, shapes=wrong))
    outs = svd_outs(device, shapes=wrong)
    with metalsvd.patched(devices=(device.type,)):
        with pytest.warns(UserWarning, match="was resized") as actual_warnings:
            torch.linalg.svd(A, out=outs)
    assert len(actual_warnings) == len(expected_warnings)
    assert_same_layout(outs, expected)
    assert_valid_svd(A, *outs, tol=1e-10)


def test_out_variant_wrong_dtype_is_refused(device):
    A = matrix(4, 4, device=device)
    outs = svd_outs(device, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype"):
        torch.linalg.svd(A, out=outs)
    with metalsvd.patched(devices=(device.type,)):
        with pytest.raises(RuntimeError, match="Expected out tensor to have dtype"):
            torch.linalg.svd(A, out=outs)


def test_svdvals_and_torch_svd_out(device):
    A = matrix(3, 5, 4, device=device)
    S_ref = torch.linalg.svdvals(A)
    U_ref, _, V_ref = torch.svd(A)
    S = torch.empty(0, device=device, dtype=A.dtype)
    U, S2, V = svd_outs(device)
    with metalsvd.patched(devices=(device.type,)):
        torch.linalg.svdvals(A, out=S)
        torch.svd(A, out=(U, S2, V))
    torch.testing.assert_close(S, S_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(S2, S_ref, rtol=1e-10, atol=1e-10)
    assert (U.shape, U.stride(), V.shape, V.stride()) == (
        U_ref.shape,
        U_ref.stride(),
        V_ref.shape,
        V_ref.stride(),
    )
    assert_valid_svd(A, U, S2, V.mT, tol=1e-10)


def test_driver_is_checked_as_pytorch_checks_it(device):
    A = matrix(5, 4, device=device)
    if device.type == "cuda":
        with metalsvd.patched(devices=("cuda",)):
            for driver in ("gesvd", "gesvdj", "gesvda"):
                S = torch.linalg.svdvals(A, driver=driver)
                torch.testing.assert_close(S, torch.linalg.svdvals(A.cpu()).cuda())
            with pytest.raises(RuntimeError, match="unknown svd driver"):
                torch.linalg.svd(A, driver="gesdd")
        return
    with pytest.raises(RuntimeError) as expected:
        torch.linalg.svd(A, driver="gesvd")
    with metalsvd.patched(devices=(device.type,)):
        with pytest.raises(RuntimeError) as actual:
            torch.linalg.svd(A, driver="gesvd")
    assert str(actual.value) == str(expected.value)


@pytest.mark.parametrize("bad", ["vector", "integer"])
def test_bad_inputs_raise_pytorch_errors(device, bad):
    A = torch.ones(3, device=device) if bad == "vector" else torch.ones(3, 3, device=device).long()
    with pytest.raises(RuntimeError) as expected:
        torch.linalg.svd(A)
    with metalsvd.patched(devices=(device.type,)):
        with pytest.raises(RuntimeError) as actual:
            torch.linalg.svd(A)
    # The messages agree up to how the dtype is spelled (PyTorch's C++ and Python meta
    # functions differ there).
    assert str(actual.value).split(". Got")[0] == str(expected.value).split(". Got")[0]


@pytest.mark.parametrize("batched", [False, True], ids=["matrix", "batch"])
def test_nan_raises_like_pytorch(batched):
    # LAPACK (PyTorch's cpu kernel) is the reference for the error and its message.
    A = matrix(3, 4, 4, device="cpu") if batched else matrix(4, 4, device="cpu")
    A[(1, 2, 0) if batched else (2, 0)] = float("nan")
    with pytest.raises(torch.linalg.LinAlgError) as expected:
        torch.linalg.svd(A)
    for device in DEVICES:
        with metalsvd.patched(devices=(device,)):
            with pytest.raises(torch.linalg.LinAlgError) as actual:
                torch.linalg.svd(A.to(device))
        assert str(actual.value) == str(expected.value)


def test_inf_gives_nan_singular_values_like_pytorch(device):
    A = matrix(2, 4, 4, device=device)
    A[1, 0, 0] = float("inf")
    expected = torch.linalg.svdvals(A.cpu())
    with metalsvd.patched(devices=(device.type,)):
        actual = torch.linalg.svdvals(A).cpu()
    assert torch.isnan(expected[1]).all() and torch.isnan(actual[1]).all()
    torch.testing.assert_close(actual[0], expected[0], rtol=1e-10, atol=1e-10)


def test_complex_input_goes_to_pytorch_kernel(device):
    A = torch.randn(4, 3, dtype=torch.complex128, device=device)
    expected = torch.linalg.svdvals(A)
    with metalsvd.patched(devices=(device.type,)):
        if hasattr(torch.library, "get_kernel"):  # PyTorch 2.8+
            torch.testing.assert_close(torch.linalg.svdvals(A), expected)
            out = torch.empty(0, dtype=torch.float64, device=device)
            torch.linalg.svdvals(A, out=out)
            torch.testing.assert_close(out, expected)
        else:
            with pytest.raises(NotImplementedError, match="complex"):
                torch.linalg.svdvals(A)


def test_half_precision(device):
    # PyTorch has no float16 SVD on cpu; patched, metalsvd computes it in float32.
    A = matrix(3, 8, 6, device=device)
    with metalsvd.patched(devices=(device.type,)):
        U, S, Vh = torch.linalg.svd(A.half(), full_matrices=False)
    assert (U.dtype, S.dtype, Vh.dtype) == (torch.float16,) * 3
    assert_valid_svd(A.half(), U, S, Vh, tol=5e-3)


# --- gradients ------------------------------------------------------------------------------


def gauge_invariant(U, S, Vh):
    k = S.shape[-1]
    return U[..., :k] @ Vh[..., :k, :], S, U[..., :k].abs(), Vh[..., :k, :].abs()


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_gradients_of_patched_svd_match_pytorch(device, shape):
    A = matrix(*shape, device=device, seed=7).requires_grad_()

    def fn(A):
        return gauge_invariant(*torch.linalg.svd(A, full_matrices=False))

    outputs = fn(A)
    cotangents = [torch.randn_like(o) for o in outputs]
    (expected,) = torch.autograd.grad(outputs, A, cotangents)
    with metalsvd.patched(devices=(device.type,)):
        outputs = fn(A)
        assert outputs[1].grad_fn.name() == "LinalgSvdBackward0"  # PyTorch's own node
        (actual,) = torch.autograd.grad(outputs, A, cotangents)
        assert torch.autograd.gradcheck(fn, (A,))
        assert torch.autograd.gradgradcheck(lambda A: torch.linalg.svdvals(A), (A,))
        assert torch.autograd.gradcheck(
            lambda A: torch.linalg.pinv(A), (A,), check_forward_ad=True
        )
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-9)


# --- vmap and compile ---------------------------------------------------------------------


def test_vmap_of_patched_operators(device):
    A = matrix(3, 6, 4, device=device)
    expected_S = torch.linalg.svdvals(A)
    expected_jac = torch.func.vmap(torch.func.jacrev(torch.linalg.svdvals))(A)
    with metalsvd.patched(devices=(device.type,)):
        calls = kernel_calls(device)
        S = torch.func.vmap(torch.linalg.svdvals, in_dims=1)(A.movedim(0, 1))
        pinv = torch.func.vmap(torch.linalg.pinv)(A)
        jac = torch.func.vmap(torch.func.jacrev(torch.linalg.svdvals))(A)
        assert kernel_calls(device) >= calls + 3
    torch.testing.assert_close(S, expected_S, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(pinv, torch.linalg.pinv(A), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(jac, expected_jac, rtol=1e-9, atol=1e-9)


def test_compile_of_patched_operators(device):
    torch._dynamo.reset()

    def fn(A):
        U, S, Vh = torch.linalg.svd(A, full_matrices=False)
        return (U * S.unsqueeze(-2)) @ Vh, torch.linalg.pinv(A), S.sum()

    A = matrix(2, 5, 4, device=device)
    expected = fn(A)
    (expected_grad,) = torch.autograd.grad(fn(A.requires_grad_())[2], A)
    compiled = torch.compile(fn, backend="inductor")
    with metalsvd.patched(devices=(device.type,)):
        calls = kernel_calls(device)
        actual = compiled(A.detach())
        (grad,) = torch.autograd.grad(compiled(A)[2], A)
        assert kernel_calls(device) >= calls + 2
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-9)


# --- metalsvd.svd's own gradients ---------------------------------------------------------


def metalsvd_invariants(A):
    U, S, V = metalsvd.svd(A)
    return gauge_invariant(U, S, V.mT)


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (2, 5, 4)])
def test_metalsvd_svd_gradcheck(device, shape):
    A = matrix(*shape, device=device, seed=11).requires_grad_()
    assert torch.autograd.gradcheck(metalsvd_invariants, (A,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(lambda A: metalsvd.svd(A).S, (A,))
    # The same gradient as PyTorch's SVD.
    outputs = metalsvd_invariants(A)
    cotangents = [torch.randn_like(o) for o in outputs]
    (actual,) = torch.autograd.grad(outputs, A, cotangents)
    expected_outputs = gauge_invariant(*torch.linalg.svd(A, full_matrices=False))
    (expected,) = torch.autograd.grad(expected_outputs, A, cotangents)
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-9)


def test_metalsvd_svd_full_matrices_gradient(device):
    A = matrix(4, 4, device=device, seed=12).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda A: gauge_invariant(*(lambda r: (r.U, r.S, r.V.mT))(metalsvd.svd(A, True))), (A,)
    )


def test_metalsvd_svd_without_grad_records_nothing(device):
    A = matrix(4, 3, device=device)
    assert metalsvd.svd(A).S.grad_fn is None
    with torch.no_grad():
        assert metalsvd.svd(A.requires_grad_()).S.grad_fn is None
    result = metalsvd.svd_ex(A.requires_grad_())
    assert result.S.grad_fn is not None and result.info.grad_fn is None
    assert result.info.dtype == torch.int32 and not result.info.any()


def test_metalsvd_svd_under_torch_func(device):
    A = matrix(5, 4, device=device, seed=13)
    expected = torch.func.jacrev(torch.linalg.svdvals)(A)
    torch.testing.assert_close(
        torch.func.jacrev(lambda A: metalsvd.svd(A).S)(A), expected, rtol=1e-9, atol=1e-9
    )
    torch.testing.assert_close(
        torch.func.jacfwd(lambda A: metalsvd.svd(A).S)(A), expected, rtol=1e-9, atol=1e-9
    )
    batch = matrix(3, 5, 4, device=device, seed=14)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        S = torch.func.vmap(lambda A: metalsvd.svd(A).S)(batch)
    calls = sum(event.name == "metalsvd::svd_ex" for event in prof.events())
    if hasattr(torch.library, "register_vmap"):
        # PyTorch 2.4+: the batching rule makes one call on the whole batch (recorded at the
        # vmap level and below it), not a loop over its 3 matrices.
        assert calls == 2
    torch.testing.assert_close(S, torch.linalg.svdvals(batch), rtol=1e-10, atol=1e-10)


def test_compile_metalsvd_svd(device):
    torch._dynamo.reset()
    A = matrix(3, 6, 4, device=device, seed=15)
    compiled = torch.compile(lambda A: metalsvd.svd(A).S * 2, fullgraph=True)
    torch.testing.assert_close(compiled(A), 2 * torch.linalg.svdvals(A), rtol=1e-10, atol=1e-10)
    X = A.clone().requires_grad_()
    torch.compile(lambda A: metalsvd.svd(A).S.sum())(X).backward()
    expected = torch.func.grad(lambda A: torch.linalg.svdvals(A).sum())(A)
    torch.testing.assert_close(X.grad, expected, rtol=1e-9, atol=1e-9)


# --- the Autograd-key route (what MPS needs before PyTorch 2.14), simulated on cpu --------


def test_backend_kernel_for_linalg_svd_is_bypassed_through_the_autograd_key():
    # PyTorch (through 2.13) registers linalg_svd itself at the MPS key, as a CPU fallback.
    # Simulate that on cpu: a backend kernel for linalg_svd that never calls _linalg_svd.
    fallback_calls = []

    def fallback(A, full_matrices=True, *, driver=None):
        fallback_calls.append(1)
        return torch.ops.aten._linalg_svd.default(A.detach(), full_matrices)

    def fallback_out(A, full_matrices=True, *, driver=None, U, S, Vh):
        raise AssertionError("not used")

    A = matrix(5, 4, device="cpu").requires_grad_()
    expected = torch.linalg.svd(A.detach(), full_matrices=False)
    # Registered as C++ registers (MPSFallback.mm), without torch.library's Python bookkeeping.
    simulated = torch._C._dispatch_library("IMPL", "aten", "CPU", __file__, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulated.impl("linalg_svd", "CPU", fallback)
        simulated.impl("linalg_svd.U", "CPU", fallback_out)
    try:
        torch.linalg.svd(A, full_matrices=False)
        assert fallback_calls == [1]
        with metalsvd.patched(devices=("cpu",)):
            calls = kernel_calls("cpu")
            U, S, Vh = torch.linalg.svd(A, full_matrices=False)
            assert kernel_calls("cpu") == calls + 1 and fallback_calls == [1]
            assert S.grad_fn.name() == "LinalgSvdBackward0"
            torch.testing.assert_close(S, expected.S, rtol=1e-10, atol=1e-10)
            (grad,) = torch.autograd.grad(S.sum(), A)
            torch.testing.assert_close(grad, expected.U @ expected.Vh, rtol=1e-9, atol=1e-9)
            # Inference mode skips the Autograd keys: the backend key must route it too.
            with torch.inference_mode():
                S = torch.linalg.svd(A, full_matrices=False).S
            outs = tuple(torch.empty(0, dtype=A.dtype) for _ in range(3))
            torch.linalg.svd(A.detach(), full_matrices=False, out=outs)
            assert kernel_calls("cpu") == calls + 3 and fallback_calls == [1]
            torch.testing.assert_close(S, expected.S, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(outs[1], expected.S, rtol=1e-10, atol=1e-10)
        torch.linalg.svd(A, full_matrices=False)
        assert fallback_calls == [1, 1]
    finally:
        if hasattr(simulated, "reset"):
            simulated.reset()
        del simulated
        gc.collect()
    assert torch.linalg.svd(A, full_matrices=False).S.grad_fn.name() == "LinalgSvdBackward0"

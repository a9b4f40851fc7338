"""PyTorch's own OpInfo samples for the SVD family, through patch_torch, against PyTorch.

For each operator, every sample of PyTorch's OpInfo database (op_db) runs once with PyTorch's
kernel (the reference, computed before patching) and once patched. Where the SVD is not unique
the comparison is of invariants: singular values, the processed outputs OpInfo itself uses for
gradients (|U|, |Vh| and U Vh over the first k columns, unique for the distinct singular values
these samples have), orthonormality of the full factors and the strides PyTorch's meta function
gives. pinv, matrix_rank, matrix_norm and cond compare directly. gradcheck (float64) runs on
the OpInfo's gradient samples through the patched operator, and the gradients are compared
with PyTorch's. Needs expecttest (PyTorch's testing modules import it).
"""

from collections import Counter

import pytest
import torch
from torch.testing._internal.common_methods_invocations import op_db

import metalsvd
from metalsvd import _patch

# (OpInfo name, variant): which samples factor by SVD (None: all) and how results compare.
SVD_FAMILY = {
    ("linalg.svd", ""): (None, "factors"),
    ("svd", ""): (None, "factors"),
    ("linalg.svdvals", ""): (None, "values"),
    ("linalg.pinv", ""): (None, "values"),
    # Rank-deficient products a @ b.mT; the 50 x 50 ones take seconds each on the emulator.
    ("linalg.pinv", "singular"): (lambda s: s.input.shape[-2] <= 10, "values"),
    ("linalg.matrix_rank", ""): (None, "exact"),
    # ord 2, -2 and 'nuc' factor by SVD; the others (fro, inf, 1) do not.
    ("linalg.matrix_norm", ""): (lambda s: s.args[:1] in ((2,), (-2,), ("nuc",)), "values"),
    ("linalg.cond", ""): (None, "values"),
}
OPINFOS = {(op.name, op.variant_test_name): op for op in op_db}
CASES = [pytest.param(key, id=f"{key[0]}-{key[1] or 'default'}") for key in SVD_FAMILY]
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-5}
# gradcheck runs two SVDs per input element through the emulator: a spread of samples.
GRADCHECK_SAMPLES = 6


@pytest.fixture(autouse=True)
def _unpatched_after():
    yield
    metalsvd.unpatch_torch()
    assert metalsvd.patched_devices() == ()


def _samples(key, device, dtype, requires_grad=False):
    selector, _ = SVD_FAMILY[key]
    samples = OPINFOS[key].sample_inputs(device, dtype, requires_grad=requires_grad)
    return [s for s in samples if selector is None or selector(s)]


def _call(op, sample):
    return op(sample.input, *sample.args, **sample.kwargs)


def _outputs(result):
    return tuple(result) if isinstance(result, tuple) else (result,)


def _close(actual, expected, tol, what):
    scale = max(1.0, expected.detach().abs().amax().item()) if expected.numel() else 1.0
    torch.testing.assert_close(
        actual, expected, rtol=tol, atol=tol * scale, msg=lambda m: f"{what}: {m}"
    )


def _orthonormal_columns(Q, tol, what):
    if Q.numel() == 0:
        return
    eye = torch.eye(Q.shape[-1], dtype=Q.dtype, device=Q.device).expand_as(Q.mH @ Q)
    _close(Q.mH @ Q, eye, tol, what)


def _compare_factors(key, sample, actual, expected, tol):
    # Shapes, dtypes, devices and strides as PyTorch's meta function gives them.
    for name, a, e in zip(("U", "S", "V"), actual, expected):
        assert (a.shape, a.dtype, a.device) == (e.shape, e.dtype, e.device), name
        assert a.stride() == e.stride(), f"{name} strides {a.stride()} != {e.stride()}"
    _close(actual[1], expected[1], tol, "S")
    processed = _outputs(sample.output_process_fn_grad(actual))
    for i, (a, e) in enumerate(zip(processed, _outputs(sample.output_process_fn_grad(expected)))):
        _close(a, e, tol, f"gauge-invariant output {i}")
    U, V = actual[0], actual[2] if key[0] == "svd" else actual[2].mH
    _orthonormal_columns(U, tol, "U orthonormal")
    _orthonormal_columns(V, tol, "V orthonormal")


def _compare(key, sample, actual, expected, tol):
    kind = SVD_FAMILY[key][1]
    if kind == "factors":
        _compare_factors(key, sample, actual, expected, tol)
    elif kind == "exact":
        assert actual.dtype == expected.dtype and torch.equal(actual, expected)
    else:
        assert (actual.shape, actual.dtype) == (expected.shape, expected.dtype)
        _close(actual, expected, tol, "result")


def _describe(sample):
    args = [a if not isinstance(a, torch.Tensor) else tuple(a.shape) for a in sample.args]
    return f"input {tuple(sample.input.shape)} args {args} kwargs {sample.kwargs}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("key", CASES)
def test_opinfo_samples_match_pytorch(device, key, dtype):
    op = OPINFOS[key]
    samples = _samples(key, device, dtype)
    assert samples, f"no OpInfo samples for {key}"
    references = [_call(op, s) for s in samples]
    failures = []
    with metalsvd.patched(devices=(device.type,)):
        for sample, expected in zip(samples, references):
            calls = _patch._kernel_calls[device.type]
            try:
                actual = _call(op, sample)
                _compare(key, sample, actual, expected, TOLERANCE[dtype])
                # The factorisation ran in metalsvd's kernel, not PyTorch's.
                if sample.input.numel() and all(
                    a.numel() for a in sample.args if isinstance(a, torch.Tensor)
                ):
                    assert _patch._kernel_calls[device.type] > calls, "metalsvd not called"
            except Exception as error:  # every failing sample is reported, not just the first
                failures.append(f"{_describe(sample)}: {type(error).__name__}: {error}")
    _report(failures, len(samples))


def _report(failures, total):
    if failures:
        counts = Counter(failures)
        lines = [f"{n} x {failure}" if n > 1 else failure for failure, n in counts.items()]
        pytest.fail(f"{len(failures)} of {total} samples failed:\n" + "\n".join(lines))


def _spread(samples, count):
    samples = [s for s in samples if s.input.numel() > 0]
    step = max(1, len(samples) // count)
    return samples[::step][:count]


def _differentiable_function(op, sample):
    def fn(*inputs):
        result = op.gradcheck_wrapper(op.get_op(), *inputs, **sample.kwargs)
        return sample.output_process_fn_grad(result)

    return fn, (sample.input, *sample.args)


GRAD_CASES = [c for c in CASES if OPINFOS[c.values[0]].supports_autograd]


@pytest.mark.parametrize("key", GRAD_CASES)
def test_opinfo_gradcheck_through_patched_kernel(device, key):
    op = OPINFOS[key]
    samples = _spread(_samples(key, device, torch.float64, requires_grad=True), GRADCHECK_SAMPLES)
    assert samples
    failures = []
    for sample in samples:
        fn, inputs = _differentiable_function(op, sample)
        differentiable = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
        outputs = _outputs(fn(*inputs))
        cotangents = [torch.randn_like(o) for o in outputs]
        expected = torch.autograd.grad(outputs, differentiable, cotangents, allow_unused=True)
        with metalsvd.patched(devices=(device.type,)):
            calls = _patch._kernel_calls[device.type]
            try:
                outputs = _outputs(fn(*inputs))
                actual = torch.autograd.grad(outputs, differentiable, cotangents, allow_unused=True)
                for a, e in zip(actual, expected):
                    if e is not None:
                        _close(a, e, 1e-8, "gradient vs PyTorch's")
                # Every Jacobian entry for a single matrix; for batches, random projections
                # of the Jacobian (gradcheck's fast mode), which keeps the emulator quick.
                fast = sample.input.dim() > 2
                assert torch.autograd.gradcheck(
                    fn, inputs, check_batched_grad=False, fast_mode=fast
                )
                assert _patch._kernel_calls[device.type] > calls, "metalsvd not called"
            except Exception as error:
                failures.append(f"{_describe(sample)}: {type(error).__name__}: {error}")
    _report(failures, len(samples))

"""The command-line entry points a user runs: demo and selftest."""

import subprocess
import sys

import torch

from metalsvd import selftest


def test_selftest_passes_and_reports_every_case(capsys):
    assert selftest.run("cpu") == 0
    out = capsys.readouterr().out
    assert "selftest on cpu" in out and "torch " + torch.__version__ in out
    rows = [line for line in out.splitlines() if line.startswith("svd ")]
    full = (len(selftest.CASES) + 3 * len(selftest.DC_CASES) + len(selftest.BLOCKED_CASES)
            + len(selftest.QR_CASES))
    assert len(rows) == full * 4  # float32, float16, bfloat16, float64
    assert sum(line[:12].rstrip() == "svd dc" for line in rows) == len(selftest.DC_CASES) * 4
    assert sum(line.startswith("svd qr ") for line in rows) == len(selftest.QR_CASES) * 4
    # The two-stage bidiagonalisation, forced, for the vectors and for the values alone, and the
    # one-launch bidiagonalisation asked for (on the cpu backend: the launches).
    for forced in ("svd dc2 ", "svdvals dc2 ", "svd dc res "):
        assert sum(line.startswith(forced) for line in out.splitlines()) == (
            len(selftest.DC_CASES) * 4)
    rows += [line for line in out.splitlines() if line.startswith("svdvals ")]
    for algorithm in ("randomized ", "lanczos "):
        truncated = [line for line in out.splitlines() if line.startswith(algorithm)]
        assert len(truncated) == len(selftest.TRUNCATED_CASES) * 4
        rows += truncated
    # Every case runs and passes: nothing is beyond this build's limits (n/a) or failing.
    assert all(row.endswith("  ok") for row in rows)


def test_demo_command_runs_on_the_emulator():
    result = subprocess.run(
        [sys.executable, "-m", "metalsvd", "demo", "--device", "cpu"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all results match LAPACK" in result.stdout


def test_a_device_that_is_not_built_is_refused():
    for command, device in (("demo", "xpu"), ("selftest", "meta"), ("selftest", "not-a-device")):
        result = subprocess.run(
            [sys.executable, "-m", "metalsvd", command, "--device", device],
            capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "--device:" in result.stderr
    # Called directly, the self-test fails instead of passing with every case n/a.
    assert selftest.run("meta") != 0

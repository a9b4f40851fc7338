"""Shared fixtures: the devices to test on, and the float64 LAPACK reference checks."""

import pytest
import torch

import metalsvd

# The cpu emulator, and every GPU this machine has that the build has a backend for.
DEVICES = ["cpu"]
if torch.cuda.is_available() and "cuda" in metalsvd.built_backends():
    DEVICES.append("cuda")
if torch.backends.mps.is_available() and "mps" in metalsvd.built_backends():
    DEVICES.append("mps")


def pytest_addoption(parser):
    parser.addoption(
        "--schedule-seeds",
        default="1,2,3",
        help="emulator schedule seeds the CPU kernel tests run under (comma separated)",
    )


def pytest_generate_tests(metafunc):
    if "schedule_seed" in metafunc.fixturenames:
        seeds = [int(s) for s in metafunc.config.getoption("schedule_seeds").split(",")]
        metafunc.parametrize("schedule_seed", seeds, ids=[f"seed{s}" for s in seeds])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture
def emulator_seed(schedule_seed):
    """Runs the test's CPU kernels under a shuffled schedule; restores the options after."""
    previous = metalsvd.set_emulator_options(schedule_seed=schedule_seed)
    yield schedule_seed
    metalsvd.set_emulator_options(*previous)

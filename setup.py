"""Builds the metalsvd._C extension: the core, the cpu backend (threadgroup emulator), the torch
operator layer and, when CUDA is available, the cuda backend. See docs/architecture.md.

Environment:
  METALSVD_CUDA=0|1|auto   build the cuda backend (auto: if torch has CUDA and nvcc is found)
  TORCH_CUDA_ARCH_LIST     GPU architectures (default "8.0;9.0")
"""

import glob
import os

from setuptools import setup
from torch.utils.cpp_extension import (
    CUDA_HOME,
    BuildExtension,
    CppExtension,
    CUDAExtension,
    include_paths,
)

import torch

ROOT = os.path.dirname(os.path.abspath(__file__))


def sources(*patterns):
    found = []
    for pattern in patterns:
        found += sorted(glob.glob(os.path.join("csrc", pattern)))
    return found


def build_cuda():
    choice = os.environ.get("METALSVD_CUDA", "auto").lower()
    available = torch.version.cuda is not None and CUDA_HOME is not None
    if choice in ("1", "on", "yes"):
        if not available:
            raise RuntimeError("METALSVD_CUDA=1 but torch has no CUDA or nvcc was not found")
        return True
    if choice in ("0", "off", "no"):
        return False
    return available


def system_includes(device_type):
    """PyTorch's headers as system headers: -Wall -Wextra then speak of our code only."""
    return [f"-isystem{path}" for path in include_paths(device_type)]


def extension():
    with_cuda = build_cuda()
    torch_headers = system_includes("cuda" if with_cuda else "cpu")
    cxx_flags = ["-O2", "-std=c++17", "-Wall", "-Wextra"] + torch_headers
    common = dict(
        name="metalsvd._C",
        sources=sources("*.cpp", "core/*.cpp", "backends/cpu/*.cpp", "torch/*.cpp"),
        include_dirs=[os.path.join(ROOT, "csrc")],
    )
    if not with_cuda:
        return CppExtension(extra_compile_args={"cxx": cxx_flags}, **common)
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
    common["sources"] += sources("backends/cuda/*.cu")
    return CUDAExtension(
        define_macros=[("METALSVD_WITH_CUDA", "1")],
        libraries=["cublas"],
        extra_compile_args={
            "cxx": cxx_flags,
            "nvcc": ["-O3", "-std=c++17", "-Xcompiler=-Wall,-Wextra"],
        },
        **common,
    )


setup(
    ext_modules=[extension()],
    cmdclass={"build_ext": BuildExtension},
)

"""Builds the metalsvd._C extension: the core, the cpu backend (threadgroup emulator), the torch
operator layer and, when CUDA is available, the cuda backend; on macOS, the metal backend. See
docs/architecture.md and docs/metal.md.

Environment:
  METALSVD_CUDA=0|1|auto   build the cuda backend (auto: if torch has CUDA and nvcc is found)
  TORCH_CUDA_ARCH_LIST     GPU architectures (default "8.0;9.0")
  METALSVD_METALLIB=auto|yes|no   macOS: precompile the kernels with Apple's Metal toolchain
                           (auto: when `xcrun metal` works; otherwise they compile at first use)
"""

import glob
import os
import subprocess
import sys

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


def build_metal():
    """macOS with a torch that has MPS: the metal backend on PyTorch's MPS stream."""
    if sys.platform != "darwin":
        return False
    if not torch.backends.mps.is_built():
        print("metalsvd: this torch has no MPS support; building without the metal backend")
        return False
    return True


class BuildExtensionWithMetal(BuildExtension):
    """Embeds the Metal shader library (tools/embed-metal-library) before compiling."""

    def build_extensions(self):
        generated = os.path.join(os.path.abspath(self.build_temp), "metalsvd_metal")
        output = os.path.join(generated, "metal_library_data.cpp")
        subprocess.check_call([
            sys.executable, os.path.join(ROOT, "tools", "embed-metal-library"),
            "--output", output, "--work-dir", generated,
            "--metallib", os.environ.get("METALSVD_METALLIB", "auto").lower(),
        ])
        for ext in self.extensions:
            if output not in ext.sources:
                ext.sources.append(output)
        super().build_extensions()


def extension(with_metal):
    with_cuda = build_cuda()
    torch_headers = system_includes("cuda" if with_cuda else "cpu")
    cxx_flags = ["-O2", "-std=c++17", "-Wall", "-Wextra"] + torch_headers
    common = dict(
        name="metalsvd._C",
        sources=sources("*.cpp", "core/*.cpp", "backends/cpu/*.cpp", "torch/*.cpp"),
        include_dirs=[os.path.join(ROOT, "csrc")],
    )
    if with_metal:
        common["sources"] += sources("backends/metal/*.mm", "torch/*.mm")
        return CppExtension(
            define_macros=[("METALSVD_WITH_METAL", "1")],
            # ARC for the .mm files (ignored by the .cpp ones); a macOS 14/15 API used without
            # an @available check is an error, not a crash on an older macOS.
            extra_compile_args={
                "cxx": cxx_flags + ["-fobjc-arc", "-Werror=unguarded-availability-new"]
            },
            extra_link_args=[
                "-framework", "Metal", "-framework", "MetalPerformanceShaders",
                "-framework", "Foundation",
            ],
            **common,
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


WITH_METAL = build_metal()
setup(
    ext_modules=[extension(WITH_METAL)],
    cmdclass={"build_ext": BuildExtensionWithMetal if WITH_METAL else BuildExtension},
)

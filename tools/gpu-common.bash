# What tools/gpu-run and tools/gpu-ab share, sourced from the repository root: the build's
# settings, the step headers and the environment and warnings they record.
# shellcheck shell=bash

export PYTHONUNBUFFERED=1
export METALSVD_CUDA=${METALSVD_CUDA:-1}  # a build without the CUDA backend is an error here
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
# Pure-Python test dependencies the GPU machine lacks (it has no network), carried in by the
# caller: pip download them into .gpu-deps/ and unzip there.
GPU_DEPS="$PWD/.gpu-deps"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# The GPU, driver, Python, torch, nvcc and commit, printed and kept in $1.
record_environment() {
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    python3 -c 'import sys, torch; print("python", sys.version.split()[0]); print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")'
    nvcc --version | tail -n 2
    git rev-parse HEAD 2>/dev/null || true
  } 2>&1 | tee "$1"
}

# The compiler's warnings (and ptxas' register counts) in build log $1, without Python's own.
build_warnings() {
  grep -iE "warning|ptxas info" "$1" |
    grep -v -E "UserWarning|_BetaConfiguration|FutureWarning|Deprecat|warnings.warn|cpp_extension" |
    head -n 20
}

// The interface every backend (cpu emulator, cuda, metal) implements for the core algorithms.
// No framework or vendor types: buffers are opaque handles plus byte offsets, because a Metal
// buffer is an object, not an address.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "buffer.h"
#include "matrix_batch.h"

namespace metalsvd {

struct DeviceLimits {
  uint32_t threadgroup_memory_bytes;  // per threadgroup
  uint32_t max_threads_per_group;
  uint32_t simd_width;
  bool supports_fp64;
  bool supports_bfloat16;
};

constexpr int kMaxKernelBuffers = 8;

// One dispatch of a kernel instantiated by the backend under `name`. Buffer i binds to the
// kernel's (i+1)-th argument; the parameter block is the first.
struct KernelLaunch {
  std::string name;
  uint32_t groups = 0;
  uint32_t threads_per_group = 0;
  uint32_t threadgroup_memory_bytes = 0;
  const void* params = nullptr;
  uint32_t params_size = 0;
  std::array<Buffer, kMaxKernelBuffers> buffers{};
  int num_buffers = 0;
  // The kernel's groups meet at grid barriers (kernels::grid_barrier): the backend runs them all
  // at once (a CUDA cooperative launch), at most grid_barrier_groups() of them.
  bool grid_barriers = false;
};

// A batched matrix product, the one dense primitive a backend provides besides kernels (cuBLAS,
// MPS, loops on the emulator). Operands are views in the compute type (f32 or f64, all equal);
// each has a unit stride along its rows or its columns (the layouts BLAS takes), a batch stride
// of 0 repeats one matrix for the whole batch (a and b only), and c must not overlap a or b.
// a is c.rows x k, b is k x c.cols; beta == 0 ignores c's contents (nan included), as BLAS does.
struct Gemm {
  MatrixBatch a;
  MatrixBatch b;
  MatrixBatch c;
  double alpha = 1;
  double beta = 0;
};

// Whether a matrix can be a Gemm operand as it is: a unit stride along its rows or columns.
bool blas_layout(const MatrixBatch& m);

// Throws metalsvd::Error unless `gemm` meets Gemm's requirements; backends call it first.
void check_gemm(const Gemm& gemm, const char* backend_name);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual const DeviceLimits& limits() const = 0;
  // Enqueues the dispatch on the backend's stream; returns without waiting for it.
  // Throws metalsvd::Error for an unknown kernel or a launch beyond the device limits.
  virtual void launch(const KernelLaunch& launch) = 0;
  // Enqueues c = alpha * a * b + beta * c for every matrix of the batch (see Gemm).
  virtual void gemm(const Gemm& gemm) = 0;
  // The most threads a group of kernel `name` may have: the device's limit, or less where the
  // kernel's own resources decide it (a Metal pipeline's maxTotalThreadsPerThreadgroup).
  virtual uint32_t max_threads_for(const std::string& name) {
    (void)name;
    return limits().max_threads_per_group;
  }
  // How many groups of `threads` threads of kernel `name` the whole device runs at once (its
  // multiprocessors times the groups each holds, given the kernel's registers); 0 where the
  // backend cannot tell (Metal says nothing of its cores, the emulator has none).
  virtual uint64_t concurrent_groups(const std::string& name, uint32_t threads) {
    (void)name;
    (void)threads;
    return 0;
  }
  // The most groups of `threads` threads and `threadgroup_bytes` of threadgroup memory a launch
  // of kernel `name` with grid barriers may have (KernelLaunch::grid_barriers: the device must
  // run them all at once); 0 where the backend has no grid barriers (Metal, which promises no
  // residency of a dispatch's threadgroups).
  virtual uint64_t grid_barrier_groups(const std::string& name, uint32_t threads,
                                       uint32_t threadgroup_bytes) {
    (void)name;
    (void)threads;
    (void)threadgroup_bytes;
    return 0;
  }
};

}  // namespace metalsvd

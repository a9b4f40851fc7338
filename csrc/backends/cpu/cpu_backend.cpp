#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <string>

#include "backends/cpu/cpu_gemm.h"
#include "backends/cpu/cpu_kernels.h"

namespace metalsvd {

CpuBackend::CpuBackend(const emu::EmulatorOptions& options) : options_(options) {
  limits_.threadgroup_memory_bytes = options.threadgroup_memory_bytes;
  limits_.max_threads_per_group = 1024;
  limits_.simd_width = kernels::kSimdWidth;
  limits_.supports_fp64 = true;
  limits_.supports_bfloat16 = true;
}

void CpuBackend::launch(const KernelLaunch& launch) {
  const CpuKernel kernel = find_cpu_kernel(launch.name);
  if (kernel == nullptr) throw Error("metalsvd cpu backend: no kernel named " + launch.name);
  kernel(launch, options_);
}

uint64_t CpuBackend::grid_barrier_groups(const std::string& name, uint32_t threads,
                                         uint32_t threadgroup_bytes) {
  (void)name;
  if (threads == 0 || threadgroup_bytes > limits_.threadgroup_memory_bytes) return 0;
  return std::min(options_.resident_threads, emu::max_resident_threads()) / threads;
}

void CpuBackend::gemm(const Gemm& gemm) {
  check_gemm(gemm, name());
  cpu_gemm(gemm);
}

}  // namespace metalsvd

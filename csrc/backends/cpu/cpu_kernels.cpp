// Instantiates the portable kernels for the emulator, one entry per kernel name.
#include "backends/cpu/cpu_kernels.h"

#include <string>
#include <unordered_map>

#include "kernels/jacobi_small.h"

namespace metalsvd {
namespace {

template <typename X>
X* buffer_pointer(const KernelLaunch& launch, int index) {
  const Buffer& b = launch.buffers[index];
  return reinterpret_cast<X*>(static_cast<char*>(b.handle) + b.offset);
}

template <typename Params>
const Params& params_of(const KernelLaunch& launch) {
  if (launch.params_size != sizeof(Params))
    throw Error("metalsvd cpu backend: " + launch.name +
                " got a parameter block of the wrong size");
  return *static_cast<const Params*>(launch.params);
}

// Kernels are compiled for a fixed threadgroup size; a launch must use exactly that size.
void check_threads(const KernelLaunch& launch, uint32_t threads) {
  if (launch.threads_per_group != threads)
    throw Error("metalsvd cpu backend: " + launch.name + " is compiled for " +
                std::to_string(threads) + " threads per group, launched with " +
                std::to_string(launch.threads_per_group));
}

template <typename T, typename C, uint32_t kThreads>
void run_jacobi_small(const KernelLaunch& launch, const emu::EmulatorOptions& options) {
  check_threads(launch, kThreads);
  const auto& p = params_of<kernels::JacobiSmallParams>(launch);
  const T* a = buffer_pointer<const T>(launch, 0);
  T* u = buffer_pointer<T>(launch, 1);
  T* s = buffer_pointer<T>(launch, 2);
  T* v = buffer_pointer<T>(launch, 3);
  int32_t* info = buffer_pointer<int32_t>(launch, 4);
  emu::run_grid(
      launch.groups, kThreads, launch.threadgroup_memory_bytes,
      [&](const kernels::ThreadContext& ctx, void* threadgroup_memory) {
        kernels::jacobi_small<T, C, kThreads>(p, a, u, s, v, info,
                                              static_cast<C*>(threadgroup_memory), ctx);
      },
      options);
}

template <typename T, typename C, uint32_t kThreads>
void run_jacobi_small_vdev(const KernelLaunch& launch, const emu::EmulatorOptions& options) {
  check_threads(launch, kThreads);
  const auto& p = params_of<kernels::JacobiSmallParams>(launch);
  const T* a = buffer_pointer<const T>(launch, 0);
  T* u = buffer_pointer<T>(launch, 1);
  T* s = buffer_pointer<T>(launch, 2);
  T* v = buffer_pointer<T>(launch, 3);
  int32_t* info = buffer_pointer<int32_t>(launch, 4);
  C* v_workspace = buffer_pointer<C>(launch, 5);
  emu::run_grid(
      launch.groups, kThreads, launch.threadgroup_memory_bytes,
      [&](const kernels::ThreadContext& ctx, void* threadgroup_memory) {
        kernels::jacobi_small_vdev<T, C, kThreads>(p, a, u, s, v, info, v_workspace,
                                                   static_cast<C*>(threadgroup_memory), ctx);
      },
      options);
}

using kernels::bfloat16_t;
using kernels::half_t;

#define METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, THREADS)                               \
  {"jacobi_small_" #TYPE_NAME "_tg" #THREADS, &run_jacobi_small<T, C, THREADS>}, {        \
    "jacobi_small_vdev_" #TYPE_NAME "_tg" #THREADS, &run_jacobi_small_vdev<T, C, THREADS> \
  }

#define METALSVD_CPU_JACOBI_SMALL_ALL_SIZES(TYPE_NAME, T, C)                                       \
  METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 64), METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 128), \
      METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 256),                                             \
      METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 512),                                             \
      METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 1024)

const std::unordered_map<std::string, CpuKernel>& cpu_kernel_table() {
  static const std::unordered_map<std::string, CpuKernel> table = {
      METALSVD_CPU_JACOBI_SMALL_ALL_SIZES(f32, float, float),
      METALSVD_CPU_JACOBI_SMALL_ALL_SIZES(f64, double, double),
      METALSVD_CPU_JACOBI_SMALL_ALL_SIZES(f16, half_t, float),
      METALSVD_CPU_JACOBI_SMALL_ALL_SIZES(bf16, bfloat16_t, float),
  };
  return table;
}

}  // namespace

CpuKernel find_cpu_kernel(const std::string& name) {
  const auto& table = cpu_kernel_table();
  const auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace metalsvd

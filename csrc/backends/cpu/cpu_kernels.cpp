// Instantiates the portable kernels for the emulator, one entry per kernel name.
#include "backends/cpu/cpu_kernels.h"

#include <string>
#include <unordered_map>

#include "kernels/jacobi_small.h"
#include "kernels/workspace_kernel_list.h"
#include "kernels/workspace_kernel_list_fp64.h"
#include "kernels/workspace_kernel_list_grid.h"

namespace metalsvd {
namespace {

using kernels::bfloat16_t;
using kernels::half_t;
using kernels::JacobiSmallParams;
using kernels::ThreadContext;

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

// A kernel is compiled for exactly kThreads threads per group (kExact) or for at most kThreads.
template <uint32_t kThreads, bool kExact>
void check_threads(const KernelLaunch& launch) {
  const uint32_t t = launch.threads_per_group;
  if (kExact ? t != kThreads : (t > kThreads || t % kernels::kSimdWidth != 0))
    throw Error("metalsvd cpu backend: " + launch.name + " is compiled for " +
                (kExact ? "" : "at most ") + std::to_string(kThreads) +
                " threads per group, launched with " + std::to_string(t));
}

template <typename T, typename C>
using ThreadgroupEntry = void (*)(const JacobiSmallParams&, const T*, T*, T*, T*, int32_t*, C*,
                                  ThreadContext);
template <typename T, typename C>
using DeviceVEntry = void (*)(const JacobiSmallParams&, const T*, T*, T*, T*, int32_t*, C*, C*,
                              ThreadContext);

// Kernels with V in threadgroup memory: buffers a, u, s, v, info.
template <typename T, typename C, uint32_t kThreads, bool kExact, ThreadgroupEntry<T, C> kEntry>
void run_v_in_threadgroup(const KernelLaunch& launch, const emu::EmulatorOptions& options) {
  check_threads<kThreads, kExact>(launch);
  const auto& p = params_of<JacobiSmallParams>(launch);
  const T* a = buffer_pointer<const T>(launch, 0);
  T* u = buffer_pointer<T>(launch, 1);
  T* s = buffer_pointer<T>(launch, 2);
  T* v = buffer_pointer<T>(launch, 3);
  int32_t* info = buffer_pointer<int32_t>(launch, 4);
  emu::run_grid(
      launch.groups, launch.threads_per_group, launch.threadgroup_memory_bytes,
      [&](const ThreadContext& ctx, void* threadgroup_memory) {
        kEntry(p, a, u, s, v, info, static_cast<C*>(threadgroup_memory), ctx);
      },
      options);
}

// Kernels with V in a device workspace: buffers a, u, s, v, info, workspace.
template <typename T, typename C, uint32_t kThreads, bool kExact, DeviceVEntry<T, C> kEntry>
void run_v_in_device(const KernelLaunch& launch, const emu::EmulatorOptions& options) {
  check_threads<kThreads, kExact>(launch);
  const auto& p = params_of<JacobiSmallParams>(launch);
  const T* a = buffer_pointer<const T>(launch, 0);
  T* u = buffer_pointer<T>(launch, 1);
  T* s = buffer_pointer<T>(launch, 2);
  T* v = buffer_pointer<T>(launch, 3);
  int32_t* info = buffer_pointer<int32_t>(launch, 4);
  C* workspace = buffer_pointer<C>(launch, 5);
  emu::run_grid(
      launch.groups, launch.threads_per_group, launch.threadgroup_memory_bytes,
      [&](const ThreadContext& ctx, void* threadgroup_memory) {
        kEntry(p, a, u, s, v, info, workspace, static_cast<C*>(threadgroup_memory), ctx);
      },
      options);
}

// Workspace kernels (kernels/workspace_kernel.h): buffers io, w0, w1, w2, state, info; any
// number of threads up to 1024 in whole SIMD groups.
template <typename P, typename T, typename C,
          void (*kEntry)(const P&, T*, C*, C*, C*, int32_t*, int32_t*, C*, ThreadContext)>
void run_workspace_kernel(const KernelLaunch& launch, const emu::EmulatorOptions& options) {
  check_threads<1024, false>(launch);
  const P& p = params_of<P>(launch);
  T* io = buffer_pointer<T>(launch, 0);
  C* w0 = buffer_pointer<C>(launch, 1);
  C* w1 = buffer_pointer<C>(launch, 2);
  C* w2 = buffer_pointer<C>(launch, 3);
  int32_t* state = buffer_pointer<int32_t>(launch, 4);
  int32_t* info = buffer_pointer<int32_t>(launch, 5);
  emu::run_grid(
      launch.groups, launch.threads_per_group, launch.threadgroup_memory_bytes,
      [&](const ThreadContext& ctx, void* threadgroup_memory) {
        kEntry(p, io, w0, w1, w2, state, info, static_cast<C*>(threadgroup_memory), ctx);
      },
      options,
      kernels::WaitsInBody<P>::value ? emu::PreviousKernelWait::in_body
                                     : emu::PreviousKernelWait::at_entry,
      launch.grid_barriers ? emu::GridBarriers::all_groups_resident : emu::GridBarriers::none);
}

#define METALSVD_CPU_WORKSPACE_KERNEL(NAME, FUNCTION, PARAMS, T, C) \
  {NAME, &run_workspace_kernel<kernels::PARAMS, T, C, &kernels::FUNCTION<kernels::PARAMS, T, C>>},

#define METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, THREADS)                      \
  {"jacobi_small_" #TYPE_NAME "_tg" #THREADS,                                    \
   &run_v_in_threadgroup<T, C, THREADS, true, &kernels::jacobi_small<T, C>>},    \
  {                                                                              \
    "jacobi_small_vdev_" #TYPE_NAME "_tg" #THREADS,                              \
        &run_v_in_device<T, C, THREADS, true, &kernels::jacobi_small_vdev<T, C>> \
  }

#define METALSVD_CPU_JACOBI_BLOCKS(TYPE_NAME, T, C, ROWS)                  \
  {"jacobi_blocks_" #TYPE_NAME "_r" #ROWS,                                 \
   &run_v_in_threadgroup<T, C, kernels::kWarpBlockMaxThreads[ROWS], false, \
                         &kernels::jacobi_blocks<T, C, ROWS>>},            \
  {                                                                        \
    "jacobi_blocks_vdev_" #TYPE_NAME "_r" #ROWS,                           \
        &run_v_in_device<T, C, kernels::kWarpBlockMaxThreads[ROWS], false, \
                         &kernels::jacobi_blocks_vdev<T, C, ROWS>>         \
  }

#define METALSVD_CPU_JACOBI_ALL(TYPE_NAME, T, C)                                                   \
  METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 64), METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 128), \
      METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 256),                                             \
      METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 512),                                             \
      METALSVD_CPU_JACOBI_SMALL(TYPE_NAME, T, C, 1024),                                            \
      METALSVD_CPU_JACOBI_BLOCKS(TYPE_NAME, T, C, 1),                                              \
      METALSVD_CPU_JACOBI_BLOCKS(TYPE_NAME, T, C, 2),                                              \
      METALSVD_CPU_JACOBI_BLOCKS(TYPE_NAME, T, C, 4),                                              \
      METALSVD_CPU_JACOBI_BLOCKS(TYPE_NAME, T, C, 8)

const std::unordered_map<std::string, CpuKernel>& cpu_kernel_table() {
  static const std::unordered_map<std::string, CpuKernel> table = {
      METALSVD_CPU_JACOBI_ALL(f32, float, float), METALSVD_CPU_JACOBI_ALL(f64, double, double),
      METALSVD_CPU_JACOBI_ALL(f16, half_t, float), METALSVD_CPU_JACOBI_ALL(bf16, bfloat16_t, float),
      METALSVD_STORAGE_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL, "f32", float, float)
          METALSVD_STORAGE_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL, "f64", double, double)
              METALSVD_STORAGE_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL, "f16", half_t, float)
                  METALSVD_STORAGE_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL, "bf16", bfloat16_t, float)
                      METALSVD_COMPUTE_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL, "f32", float)
                          METALSVD_COMPUTE_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL, "f64", double)
                              METALSVD_FP64_ON_F32_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL)
                                  METALSVD_GRID_BARRIER_KERNELS(METALSVD_CPU_WORKSPACE_KERNEL)};
  return table;
}

}  // namespace

CpuKernel find_cpu_kernel(const std::string& name) {
  const auto& table = cpu_kernel_table();
  const auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace metalsvd

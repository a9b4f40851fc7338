// Metal entry points of the portable kernels (csrc/kernels/): each entry point carries the MSL
// attributes, builds a ThreadContext and calls the portable body; METALSVD_INSTANTIATE_KERNEL
// names one instantiation (the names are the CPU backend's, csrc/backends/cpu/cpu_kernels.cpp).
//
// Binding convention, followed by the host:
//   buffer(0)          constant JacobiSmallParams&
//   buffer(1..)        the portable entry's pointer arguments, in order:
//                      a_in, u_out, s_out, v_out, info_out[, v_workspace]
//   threadgroup(0)     the dynamic threadgroup scratch (setThreadgroupMemoryLength:atIndex:0)
// A kernel compiled for kThreads threads must be dispatched with exactly kThreads threads per
// threadgroup, one threadgroup per matrix.
//
// Build with `-I csrc` and without fast math (-fno-fast-math, MTLMathModeSafe): fast math assumes
// finite values, which folds isfinite() to true and disables the non-finite input check.
// tools/check-metal type-checks this file with clang through tools/metal-shim.
#include "kernels/jacobi_small.h"
#include "kernels/workspace_kernel_list.h"

// Under tools/check-metal (METALSVD_METAL_TYPECHECK) two attributes need another spelling:
// `threadgroup` is a macro there (for the address space), which would also rewrite
// [[threadgroup(0)]], and clang rejects an attribute list right after `template`. The binding
// becomes an attribute clang ignores, the host name an annotation that check-metal reads back to
// compare the kernel names with the CPU backend's.
#if defined(METALSVD_METAL_TYPECHECK)
#define METALSVD_THREADGROUP_BINDING(index) [[metalsvd_threadgroup_binding(index)]]
#define METALSVD_HOST_NAME(name) __attribute__((annotate("metalsvd_host_name=" name)))
#else
#define METALSVD_THREADGROUP_BINDING(index) [[threadgroup(index)]]
#define METALSVD_HOST_NAME(name) [[host_name(name)]] [[kernel]]
#endif

// Explicit instantiation of `entry<template arguments...>` as the kernel function `name` (MLX's
// instantiate_kernel pattern).
#define METALSVD_INSTANTIATE_KERNEL(name, entry, ...) \
  template METALSVD_HOST_NAME(name) decltype(entry<__VA_ARGS__>) entry<__VA_ARGS__>;

namespace metalsvd {

// Positional, so that it does not depend on the names of ThreadContext's members.
inline kernels::ThreadContext metal_thread_context(uint thread_index, uint group, uint lane,
                                                   uint simd_group) {
  const kernels::ThreadContext ctx = {thread_index, group, lane, simd_group};
  return ctx;
}

}  // namespace metalsvd

// Entry points live at global scope, like MLX's; Metal finds them by host_name.
// One kernel argument a line, so that the bindings read as a table.
// clang-format off
template <typename T, typename C, uint32_t kThreads>
[[kernel, max_total_threads_per_threadgroup(kThreads)]] void metalsvd_jacobi_small(
    constant metalsvd::kernels::JacobiSmallParams& p [[buffer(0)]],
    device const T* a_in [[buffer(1)]],
    device T* u_out [[buffer(2)]],
    device T* s_out [[buffer(3)]],
    device T* v_out [[buffer(4)]],
    device int32_t* info_out [[buffer(5)]],
    threadgroup C* scratch METALSVD_THREADGROUP_BINDING(0),
    uint thread_index [[thread_position_in_threadgroup]],
    uint group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simd_group [[simdgroup_index_in_threadgroup]]) {
  metalsvd::kernels::jacobi_small<T, C>(
      p, a_in, u_out, s_out, v_out, info_out, scratch,
      metalsvd::metal_thread_context(thread_index, group, lane, simd_group));
}

template <typename T, typename C, uint32_t kThreads>
[[kernel, max_total_threads_per_threadgroup(kThreads)]] void metalsvd_jacobi_small_vdev(
    constant metalsvd::kernels::JacobiSmallParams& p [[buffer(0)]],
    device const T* a_in [[buffer(1)]],
    device T* u_out [[buffer(2)]],
    device T* s_out [[buffer(3)]],
    device T* v_out [[buffer(4)]],
    device int32_t* info_out [[buffer(5)]],
    device C* v_workspace [[buffer(6)]],
    threadgroup C* scratch METALSVD_THREADGROUP_BINDING(0),
    uint thread_index [[thread_position_in_threadgroup]],
    uint group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simd_group [[simdgroup_index_in_threadgroup]]) {
  metalsvd::kernels::jacobi_small_vdev<T, C>(
      p, a_in, u_out, s_out, v_out, info_out, v_workspace, scratch,
      metalsvd::metal_thread_context(thread_index, group, lane, simd_group));
}
// The warp-block kernels run with at most kWarpBlockMaxThreads[kRows] threads (the plan's
// choice), a bound the host checks against the pipeline's maxTotalThreadsPerThreadgroup.
template <typename T, typename C, uint32_t kRows>
[[kernel]] void metalsvd_jacobi_blocks(
    constant metalsvd::kernels::JacobiSmallParams& p [[buffer(0)]],
    device const T* a_in [[buffer(1)]],
    device T* u_out [[buffer(2)]],
    device T* s_out [[buffer(3)]],
    device T* v_out [[buffer(4)]],
    device int32_t* info_out [[buffer(5)]],
    threadgroup C* scratch METALSVD_THREADGROUP_BINDING(0),
    uint thread_index [[thread_position_in_threadgroup]],
    uint group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simd_group [[simdgroup_index_in_threadgroup]]) {
  metalsvd::kernels::jacobi_blocks<T, C, kRows>(
      p, a_in, u_out, s_out, v_out, info_out, scratch,
      metalsvd::metal_thread_context(thread_index, group, lane, simd_group));
}

template <typename T, typename C, uint32_t kRows>
[[kernel]] void metalsvd_jacobi_blocks_vdev(
    constant metalsvd::kernels::JacobiSmallParams& p [[buffer(0)]],
    device const T* a_in [[buffer(1)]],
    device T* u_out [[buffer(2)]],
    device T* s_out [[buffer(3)]],
    device T* v_out [[buffer(4)]],
    device int32_t* info_out [[buffer(5)]],
    device C* v_workspace [[buffer(6)]],
    threadgroup C* scratch METALSVD_THREADGROUP_BINDING(0),
    uint thread_index [[thread_position_in_threadgroup]],
    uint group [[threadgroup_position_in_grid]],
    uint lane [[thread_index_in_simdgroup]],
    uint simd_group [[simdgroup_index_in_threadgroup]]) {
  metalsvd::kernels::jacobi_blocks_vdev<T, C, kRows>(
      p, a_in, u_out, s_out, v_out, info_out, v_workspace, scratch,
      metalsvd::metal_thread_context(thread_index, group, lane, simd_group));
}

// Workspace kernels (kernels/workspace_kernel.h), one entry template per function:
//   buffer(0) constant params, buffer(1) io, buffer(2..4) w0..w2, buffer(5) state,
//   buffer(6) info, threadgroup(0) scratch; any thread count up to the pipeline's maximum.
#define METALSVD_METAL_WORKSPACE_ENTRY(FUNCTION)                                   \
  template <typename P, typename T, typename C>                                    \
  [[kernel]] void metalsvd_##FUNCTION(                                             \
      constant P& p [[buffer(0)]],                                                 \
      device T* io [[buffer(1)]],                                                  \
      device C* w0 [[buffer(2)]],                                                  \
      device C* w1 [[buffer(3)]],                                                  \
      device C* w2 [[buffer(4)]],                                                  \
      device int32_t* state [[buffer(5)]],                                         \
      device int32_t* info [[buffer(6)]],                                          \
      threadgroup C* scratch METALSVD_THREADGROUP_BINDING(0),                      \
      uint thread_index [[thread_position_in_threadgroup]],                        \
      uint group [[threadgroup_position_in_grid]],                                 \
      uint lane [[thread_index_in_simdgroup]],                                     \
      uint simd_group [[simdgroup_index_in_threadgroup]]) {                        \
    metalsvd::kernels::FUNCTION<P, T, C>(                                          \
        p, io, w0, w1, w2, state, info, scratch,                                   \
        metalsvd::metal_thread_context(thread_index, group, lane, simd_group));    \
  }
METALSVD_WORKSPACE_FUNCTIONS(METALSVD_METAL_WORKSPACE_ENTRY)
// clang-format on

#define METALSVD_METAL_JACOBI_SMALL(TYPE_NAME, T, C, THREADS)                                      \
  METALSVD_INSTANTIATE_KERNEL("jacobi_small_" #TYPE_NAME "_tg" #THREADS, metalsvd_jacobi_small, T, \
                              C, THREADS)                                                          \
  METALSVD_INSTANTIATE_KERNEL("jacobi_small_vdev_" #TYPE_NAME "_tg" #THREADS,                      \
                              metalsvd_jacobi_small_vdev, T, C, THREADS)

#define METALSVD_METAL_JACOBI_BLOCKS(TYPE_NAME, T, C, ROWS)                                    \
  METALSVD_INSTANTIATE_KERNEL("jacobi_blocks_" #TYPE_NAME "_r" #ROWS, metalsvd_jacobi_blocks, T, \
                              C, ROWS)                                                           \
  METALSVD_INSTANTIATE_KERNEL("jacobi_blocks_vdev_" #TYPE_NAME "_r" #ROWS,                       \
                              metalsvd_jacobi_blocks_vdev, T, C, ROWS)

#define METALSVD_METAL_JACOBI_SMALL_ALL_SIZES(TYPE_NAME, T, C) \
  METALSVD_METAL_JACOBI_SMALL(TYPE_NAME, T, C, 64)             \
  METALSVD_METAL_JACOBI_SMALL(TYPE_NAME, T, C, 128)            \
  METALSVD_METAL_JACOBI_SMALL(TYPE_NAME, T, C, 256)            \
  METALSVD_METAL_JACOBI_SMALL(TYPE_NAME, T, C, 512)            \
  METALSVD_METAL_JACOBI_SMALL(TYPE_NAME, T, C, 1024)           \
  METALSVD_METAL_JACOBI_BLOCKS(TYPE_NAME, T, C, 1)             \
  METALSVD_METAL_JACOBI_BLOCKS(TYPE_NAME, T, C, 2)             \
  METALSVD_METAL_JACOBI_BLOCKS(TYPE_NAME, T, C, 4)             \
  METALSVD_METAL_JACOBI_BLOCKS(TYPE_NAME, T, C, 8)

#define METALSVD_METAL_WORKSPACE_KERNEL(NAME, FUNCTION, PARAMS, T, C) \
  METALSVD_INSTANTIATE_KERNEL(NAME, metalsvd_##FUNCTION, metalsvd::kernels::PARAMS, T, C)

// Metal has no double: no f64 kernels. half and bfloat compute in float.
METALSVD_METAL_JACOBI_SMALL_ALL_SIZES(f32, float, float)
METALSVD_METAL_JACOBI_SMALL_ALL_SIZES(f16, half, float)
METALSVD_STORAGE_KERNELS(METALSVD_METAL_WORKSPACE_KERNEL, "f32", float, float)
METALSVD_STORAGE_KERNELS(METALSVD_METAL_WORKSPACE_KERNEL, "f16", half, float)
METALSVD_COMPUTE_KERNELS(METALSVD_METAL_WORKSPACE_KERNEL, "f32", float)
#if defined(__HAVE_BFLOAT__)
METALSVD_METAL_JACOBI_SMALL_ALL_SIZES(bf16, bfloat, float)
METALSVD_STORAGE_KERNELS(METALSVD_METAL_WORKSPACE_KERNEL, "bf16", bfloat, float)
#endif

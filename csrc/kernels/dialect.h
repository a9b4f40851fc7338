// The kernel dialect: the few names through which one kernel body compiles for Metal, CUDA and
// the CPU threadgroup emulator.
//
// Kernel bodies use only what this header and the target header it includes provide:
//   address spaces   MSVD_DEVICE, MSVD_THREADGROUP, MSVD_CONSTANT on every pointer/reference
//   functions        MSVD_INLINE (kernel-side helpers), MSVD_HOST_DEVICE (also used by the host)
//   loops            MSVD_UNROLL before a loop of constant trip count (a hint; CPU ignores it)
//   thread identity  ThreadContext, filled by each backend's entry point
//   synchronisation  group_barrier(), group_barrier_with_device_memory();
//                    wait_for_previous_kernel(): what the previous launch wrote may be read
//                    from here on (CUDA: a kernel may start while the previous one runs;
//                    Metal and the emulator start it after: nothing);
//                    grid_barrier(): every thread of every group of the launch meets here,
//                    and what any wrote before is visible to all after. CUDA and the emulator
//                    only, in launches with KernelLaunch::grid_barriers, whose groups are all
//                    resident at once: Metal promises no such residency, so it has no grid
//                    barrier and the kernels that use one are not in its library;
//                    load_coherent(): a load of what another group of the launch wrote before
//                    the last grid barrier, past a multiprocessor's own cache (CUDA and the
//                    emulator, with grid_barrier())
//   SIMD groups      shuffle_xor(), simd_broadcast() (the same source lane in every lane),
//                    simd_reduce_sum(), simd_reduce_max() over kSimdWidth lanes
//   wide loads       load_quad(): four consecutive values of device or threadgroup memory in
//                    one access, at an address aligned to their size (4 sizeof(C) bytes; the
//                    emulator checks)
//   cache hints      prefetch(): the cache line holding an address will be read soon (CUDA:
//                    into L1; Metal has no such instruction and the emulator no cache: nothing)
//   numbers          NumericLimits<C>, to_compute<C>(), from_compute<T>(), math_* functions
//   16-bit storage   half_t, bfloat16_t
//
// Rules (checked by the Metal type-check in CI): C++14 only, no recursion, no pointers to
// pointers, no exceptions, no dynamic allocation, no double in anything Metal instantiates.
#pragma once

namespace metalsvd {
namespace kernels {

// Four consecutive values, as load_quad() reads them.
template <typename C>
struct Quad {
  C x[4];
};

}  // namespace kernels
}  // namespace metalsvd

#if defined(__METAL_VERSION__) || defined(METALSVD_METAL_TYPECHECK)
#include "dialect_metal.h"
#elif defined(__CUDACC__)
#include "dialect_cuda.h"
#else
#include "dialect_cpu.h"
#endif

namespace metalsvd {
namespace kernels {

// Threads of one SIMD group (Metal simdgroup, CUDA warp, emulator lane group). Apple GPUs and
// NVIDIA GPUs both execute 32 lanes; the Metal host checks threadExecutionWidth against it.
MSVD_CONSTANT constexpr uint32_t kSimdWidth = 32;

// Identity of one GPU thread, filled by the backend's entry point so bodies never touch
// target-specific built-ins.
struct ThreadContext {
  uint32_t thread_index;  // index within the threadgroup
  uint32_t group;         // index of the threadgroup in the grid
  uint32_t lane;          // index within the SIMD group
  uint32_t simd_group;    // index of the SIMD group within the threadgroup
};

}  // namespace kernels
}  // namespace metalsvd

// Instantiates the portable kernels as CUDA kernels, one entry per kernel name.
#include <array>
#include <atomic>
#include <string>
#include <unordered_map>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_kernels.h"
#include "kernels/jacobi_small.h"
#include "kernels/workspace_kernel_list.h"
#include "kernels/workspace_kernel_list_fp64.h"
#include "kernels/workspace_kernel_list_grid.h"

namespace metalsvd {
namespace {

__device__ __forceinline__ kernels::ThreadContext cuda_thread_context() {
  return {threadIdx.x, blockIdx.x, threadIdx.x % kernels::kSimdWidth,
          threadIdx.x / kernels::kSimdWidth};
}

template <typename T, typename C>
using ThreadgroupEntry = void (*)(const kernels::JacobiSmallParams&, const T*, T*, T*, T*, int32_t*,
                                  C*, kernels::ThreadContext);
template <typename T, typename C>
using DeviceVEntry = void (*)(const kernels::JacobiSmallParams&, const T*, T*, T*, T*, int32_t*, C*,
                              C*, kernels::ThreadContext);

// Kernels with V in threadgroup (shared) memory: buffers a, u, s, v, info.
template <typename T, typename C, uint32_t kThreads, ThreadgroupEntry<T, C> kEntry>
__global__ void __launch_bounds__(kThreads)
    v_in_threadgroup_kernel(const kernels::JacobiSmallParams p, const T* a, T* u, T* s, T* v,
                            int32_t* info) {
  extern __shared__ __align__(16) unsigned char shared_memory[];
  kEntry(p, a, u, s, v, info, reinterpret_cast<C*>(shared_memory), cuda_thread_context());
}

// Kernels with V in a device workspace: buffers a, u, s, v, info, workspace.
template <typename T, typename C, uint32_t kThreads, DeviceVEntry<T, C> kEntry>
__global__ void __launch_bounds__(kThreads)
    v_in_device_kernel(const kernels::JacobiSmallParams p, const T* a, T* u, T* s, T* v,
                       int32_t* info, C* v_workspace) {
  extern __shared__ __align__(16) unsigned char shared_memory[];
  kEntry(p, a, u, s, v, info, v_workspace, reinterpret_cast<C*>(shared_memory),
         cuda_thread_context());
}

template <typename X>
X* buffer_pointer(const KernelLaunch& launch, int index) {
  const Buffer& b = launch.buffers[index];
  return reinterpret_cast<X*>(static_cast<char*>(b.handle) + b.offset);
}

template <typename Params>
Params params_of(const KernelLaunch& launch) {
  if (launch.params_size != sizeof(Params))
    throw Error("metalsvd cuda backend: " + launch.name +
                " got a parameter block of the wrong size");
  return *static_cast<const Params*>(launch.params);
}

// A kernel is compiled for exactly kThreads threads per block (kExact) or at most kThreads;
// more than 48 KiB of dynamic shared memory must be allowed per kernel before launch.
template <uint32_t kThreads, bool kExact, typename Kernel>
void prepare_launch(Kernel kernel, const KernelLaunch& launch) {
  const uint32_t t = launch.threads_per_group;
  if (kExact ? t != kThreads : (t > kThreads || t % kernels::kSimdWidth != 0))
    throw Error("metalsvd cuda backend: " + launch.name + " is compiled for " +
                (kExact ? "" : "at most ") + std::to_string(kThreads) +
                " threads per block, launched with " + std::to_string(t));
  constexpr uint32_t kDefaultDynamicSharedMemory = 48 * 1024;
  if (launch.threadgroup_memory_bytes > kDefaultDynamicSharedMemory)
    cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(launch.threadgroup_memory_bytes)),
               "cudaFuncSetAttribute");
}

template <typename T, typename C, uint32_t kThreads, bool kExact, ThreadgroupEntry<T, C> kEntry>
void launch_v_in_threadgroup(const KernelLaunch& launch, const CudaLaunchOptions& options) {
  const cudaStream_t stream = options.stream;
  const auto kernel = &v_in_threadgroup_kernel<T, C, kThreads, kEntry>;
  prepare_launch<kThreads, kExact>(kernel, launch);
  kernel<<<launch.groups, launch.threads_per_group, launch.threadgroup_memory_bytes, stream>>>(
      params_of<kernels::JacobiSmallParams>(launch), buffer_pointer<const T>(launch, 0),
      buffer_pointer<T>(launch, 1), buffer_pointer<T>(launch, 2), buffer_pointer<T>(launch, 3),
      buffer_pointer<int32_t>(launch, 4));
  cuda_check(cudaGetLastError(), launch.name.c_str());
}

template <typename T, typename C, uint32_t kThreads, bool kExact, DeviceVEntry<T, C> kEntry>
void launch_v_in_device(const KernelLaunch& launch, const CudaLaunchOptions& options) {
  const cudaStream_t stream = options.stream;
  const auto kernel = &v_in_device_kernel<T, C, kThreads, kEntry>;
  prepare_launch<kThreads, kExact>(kernel, launch);
  kernel<<<launch.groups, launch.threads_per_group, launch.threadgroup_memory_bytes, stream>>>(
      params_of<kernels::JacobiSmallParams>(launch), buffer_pointer<const T>(launch, 0),
      buffer_pointer<T>(launch, 1), buffer_pointer<T>(launch, 2), buffer_pointer<T>(launch, 3),
      buffer_pointer<int32_t>(launch, 4), buffer_pointer<C>(launch, 5));
  cuda_check(cudaGetLastError(), launch.name.c_str());
}

// Programmatic dependent launch (compute capability 9.0 on; kernels::wait_for_previous_kernel):
// a workspace kernel launched with overlap_previous may start while the previous one runs. Most
// wait at their entry, here, before they read or write memory, so that only the launch latency
// overlaps and the order of memory accesses is that of plain launches; the kernels of
// kernels::WaitsInBody wait in their bodies, after loads of data the previous launch never
// writes.

// Whether `kernel` was compiled with that wait: from PTX of compute capability 9.0 on.
constexpr int kOverlapPtxVersion = 90;

// The most threads a block of a workspace kernel with parameters P, which bounds its registers
// at 65536 / that: 64 for most. The bulge chasing's lanes each hold a column of a task's block
// (2 kBandMax values), which at 64 registers spill; a bound of 512 threads gives them 128 (its
// steps' groups are one SIMD group).
// The tall-skinny QR's tile factorisation holds tsqr_factor_rows rows of 32 values a thread. The
// back-transformation's threads each hold a column of a window and a reflector (3 kBandMax
// values): a bound of 512 threads gives them 128 registers.
template <typename P>
constexpr uint32_t kWorkspaceThreads = 1024;
template <>
constexpr uint32_t kWorkspaceThreads<kernels::BandBidiagonalParams> = 512;
template <>
constexpr uint32_t kWorkspaceThreads<kernels::TsqrFactorParams> = 512;
template <>
constexpr uint32_t kWorkspaceThreads<kernels::BandBackTransformParams> = 512;

template <typename P, typename T, typename C>
using WorkspaceEntry = void (*)(const P&, T*, C*, C*, C*, int32_t*, int32_t*, C*,
                                kernels::ThreadContext);

// The same for one kernel, where it differs from its parameters' (kWorkspaceThreads<P>): the
// whole bidiagonalisation in registers has a form for groups of at most 512 threads, whose 128
// registers a thread hold a row's slots without spilling (kernels/bidiagonal_resident.h).
template <typename P, typename T, typename C, WorkspaceEntry<P, T, C> kEntry>
constexpr uint32_t kEntryThreads = kWorkspaceThreads<P>;
template <>
constexpr uint32_t
    kEntryThreads<kernels::BidiagonalParams, float, float,
                  &kernels::bidiagonal_resident_narrow<kernels::BidiagonalParams, float, float>> =
        kernels::kBrdResidentNarrowThreads;

// Workspace kernels (kernels/workspace_kernel.h): buffers io, w0, w1, w2, state, info; any
// number of threads up to kEntryThreads.
template <typename P, typename T, typename C, WorkspaceEntry<P, T, C> kEntry>
__global__ void __launch_bounds__(kEntryThreads<P, T, C, kEntry>)
    workspace_kernel(const P p, T* io, C* w0, C* w1, C* w2, int32_t* state, int32_t* info) {
  if (!kernels::WaitsInBody<P>::value) kernels::wait_for_previous_kernel();
  extern __shared__ __align__(16) unsigned char shared_memory[];
  kEntry(p, io, w0, w1, w2, state, info, reinterpret_cast<C*>(shared_memory),
         cuda_thread_context());
}

// Whether the binary device `device` runs of `kernel` waits for the previous kernel (a build
// for 8.0 alone, run through the driver's PTX compiler, does not). Asked once per kernel and
// device; `answers` is the kernel's cache (0: not asked yet, 1: no, 2: yes).
constexpr int kMaxDevices = 64;
template <typename Kernel>
bool waits_for_previous_kernel(Kernel kernel, int device,
                               std::array<std::atomic<int>, kMaxDevices>& answers) {
  if (device < 0 || device >= kMaxDevices) return false;
  int answer = answers[device].load(std::memory_order_relaxed);
  if (answer == 0) {
    cudaFuncAttributes attributes{};
    cuda_check(cudaFuncGetAttributes(&attributes, kernel), "cudaFuncGetAttributes");
    answer = attributes.ptxVersion >= kOverlapPtxVersion ? 2 : 1;
    answers[device].store(answer, std::memory_order_relaxed);
  }
  return answer == 2;
}

template <typename P, typename T, typename C, WorkspaceEntry<P, T, C> kEntry>
void launch_workspace_kernel(const KernelLaunch& launch, const CudaLaunchOptions& options) {
  const auto kernel = &workspace_kernel<P, T, C, kEntry>;
  prepare_launch<kEntryThreads<P, T, C, kEntry>, false>(kernel, launch);
  static std::array<std::atomic<int>, kMaxDevices> answers{};
  const bool waits =
      options.overlap_previous && waits_for_previous_kernel(kernel, options.device, answers);
  // A launch with grid barriers is cooperative, which promises that all its blocks are resident
  // at once (or fails); it waits for the previous kernel as a plain launch does.
  cudaLaunchAttribute attribute{};
  if (launch.grid_barriers) {
    attribute.id = cudaLaunchAttributeCooperative;
    attribute.val.cooperative = 1;
  } else {
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
  }
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(launch.groups);
  config.blockDim = dim3(launch.threads_per_group);
  config.dynamicSmemBytes = launch.threadgroup_memory_bytes;
  config.stream = options.stream;
  config.attrs = &attribute;
  config.numAttrs = launch.grid_barriers || waits ? 1 : 0;
  cuda_check(cudaLaunchKernelEx(&config, kernel, params_of<P>(launch), buffer_pointer<T>(launch, 0),
                                buffer_pointer<C>(launch, 1), buffer_pointer<C>(launch, 2),
                                buffer_pointer<C>(launch, 3), buffer_pointer<int32_t>(launch, 4),
                                buffer_pointer<int32_t>(launch, 5)),
             launch.name.c_str());
}

template <typename P, typename T, typename C, WorkspaceEntry<P, T, C> kEntry>
int workspace_kernel_occupancy(uint32_t threads, uint32_t threadgroup_bytes) {
  const auto kernel = &workspace_kernel<P, T, C, kEntry>;
  constexpr uint32_t kDefaultDynamicSharedMemory = 48 * 1024;
  if (threadgroup_bytes > kDefaultDynamicSharedMemory)
    cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(threadgroup_bytes)),
               "cudaFuncSetAttribute");
  int blocks = 0;
  cuda_check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                 &blocks, kernel, static_cast<int>(threads), threadgroup_bytes),
             "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  return blocks;
}

#define METALSVD_CUDA_WORKSPACE_KERNEL(NAME, FUNCTION, PARAMS, T, C)                            \
  {NAME,                                                                                        \
   {&launch_workspace_kernel<kernels::PARAMS, T, C, &kernels::FUNCTION<kernels::PARAMS, T, C>>, \
    kEntryThreads<kernels::PARAMS, T, C, &kernels::FUNCTION<kernels::PARAMS, T, C>>,            \
    &workspace_kernel_occupancy<kernels::PARAMS, T, C,                                          \
                                &kernels::FUNCTION<kernels::PARAMS, T, C>>}},

using kernels::bfloat16_t;
using kernels::half_t;

#define METALSVD_CUDA_JACOBI_SMALL(TYPE_NAME, T, C, THREADS)                                \
  {"jacobi_small_" #TYPE_NAME "_tg" #THREADS,                                               \
   {&launch_v_in_threadgroup<T, C, THREADS, true, &kernels::jacobi_small<T, C>>, THREADS,   \
    nullptr}},                                                                              \
  {                                                                                         \
    "jacobi_small_vdev_" #TYPE_NAME "_tg" #THREADS, {                                       \
      &launch_v_in_device<T, C, THREADS, true, &kernels::jacobi_small_vdev<T, C>>, THREADS, \
          nullptr                                                                           \
    }                                                                                       \
  }

#define METALSVD_CUDA_JACOBI_BLOCKS(TYPE_NAME, T, C, ROWS)                     \
  {"jacobi_blocks_" #TYPE_NAME "_r" #ROWS,                                     \
   {&launch_v_in_threadgroup<T, C, kernels::kWarpBlockMaxThreads[ROWS], false, \
                             &kernels::jacobi_blocks<T, C, ROWS>>,             \
    kernels::kWarpBlockMaxThreads[ROWS], nullptr}},                            \
  {                                                                            \
    "jacobi_blocks_vdev_" #TYPE_NAME "_r" #ROWS, {                             \
      &launch_v_in_device<T, C, kernels::kWarpBlockMaxThreads[ROWS], false,    \
                          &kernels::jacobi_blocks_vdev<T, C, ROWS>>,           \
          kernels::kWarpBlockMaxThreads[ROWS], nullptr                         \
    }                                                                          \
  }

#define METALSVD_CUDA_JACOBI_ALL(TYPE_NAME, T, C)        \
  METALSVD_CUDA_JACOBI_SMALL(TYPE_NAME, T, C, 64),       \
      METALSVD_CUDA_JACOBI_SMALL(TYPE_NAME, T, C, 128),  \
      METALSVD_CUDA_JACOBI_SMALL(TYPE_NAME, T, C, 256),  \
      METALSVD_CUDA_JACOBI_SMALL(TYPE_NAME, T, C, 512),  \
      METALSVD_CUDA_JACOBI_SMALL(TYPE_NAME, T, C, 1024), \
      METALSVD_CUDA_JACOBI_BLOCKS(TYPE_NAME, T, C, 1),   \
      METALSVD_CUDA_JACOBI_BLOCKS(TYPE_NAME, T, C, 2),   \
      METALSVD_CUDA_JACOBI_BLOCKS(TYPE_NAME, T, C, 4),   \
      METALSVD_CUDA_JACOBI_BLOCKS(TYPE_NAME, T, C, 8)

const std::unordered_map<std::string, CudaKernel>& cuda_kernel_table() {
  static const std::unordered_map<std::string, CudaKernel> table = {
      METALSVD_CUDA_JACOBI_ALL(f32, float, float), METALSVD_CUDA_JACOBI_ALL(f64, double, double),
      METALSVD_CUDA_JACOBI_ALL(f16, half_t, float),
      METALSVD_CUDA_JACOBI_ALL(bf16, bfloat16_t, float),
      METALSVD_STORAGE_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL, "f32", float, float)
          METALSVD_STORAGE_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL, "f64", double, double)
              METALSVD_STORAGE_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL, "f16", half_t, float)
                  METALSVD_STORAGE_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL, "bf16", bfloat16_t,
                                           float)
                      METALSVD_COMPUTE_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL, "f32", float)
                          METALSVD_COMPUTE_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL, "f64", double)
                              METALSVD_FP64_ON_F32_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL)
                                  METALSVD_GRID_BARRIER_KERNELS(METALSVD_CUDA_WORKSPACE_KERNEL)};
  return table;
}

}  // namespace

CudaKernel find_cuda_kernel(const std::string& name) {
  const auto& table = cuda_kernel_table();
  const auto it = table.find(name);
  return it == table.end() ? CudaKernel{} : it->second;
}

}  // namespace metalsvd

// The kernels the cuda backend instantiates, by name.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "backend.h"

namespace metalsvd {

// How a launch is enqueued. overlap_previous: the kernel may be launched while the previous
// kernel of the stream still runs (programmatic dependent launch, compute capability 9.0 on);
// a kernel compiled for it waits for that kernel before it touches memory, so only the launch
// latency overlaps. Kernels not compiled so ignore it.
struct CudaLaunchOptions {
  cudaStream_t stream = nullptr;
  int device = 0;
  bool overlap_previous = false;
};

// Enqueues one launch; the launch was already checked by the backend.
using CudaEnqueue = void (*)(const KernelLaunch& launch, const CudaLaunchOptions& options);

// Blocks of `threads` threads with `threadgroup_bytes` of shared memory each a multiprocessor of
// the current device holds at once.
using CudaOccupancy = int (*)(uint32_t threads, uint32_t threadgroup_bytes);

struct CudaKernel {
  CudaEnqueue enqueue = nullptr;
  uint32_t max_threads = 0;           // the block size it is compiled for (its __launch_bounds__)
  CudaOccupancy occupancy = nullptr;  // nullptr: not asked of this kernel
};

// The kernel instantiated under `name`; its enqueue is nullptr where there is none.
CudaKernel find_cuda_kernel(const std::string& name);

}  // namespace metalsvd

// The interface every backend (cpu emulator, cuda, metal) implements for the core algorithms.
// No framework or vendor types: buffers are opaque handles plus byte offsets, because a Metal
// buffer is an object, not an address.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace metalsvd {

struct Buffer {
  void* handle = nullptr;  // device pointer (cpu, cuda) or id<MTLBuffer> (metal)
  uint64_t offset = 0;     // bytes from the start of the handle's storage
};

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
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual const DeviceLimits& limits() const = 0;
  // Enqueues the dispatch on the backend's stream; returns without waiting for it.
  // Throws metalsvd::Error for an unknown kernel or a launch beyond the device limits.
  virtual void launch(const KernelLaunch& launch) = 0;
};

}  // namespace metalsvd

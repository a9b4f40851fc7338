#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_gemm.h"
#include "backends/cuda/cuda_kernels.h"
#include "kernels/dialect.h"

namespace metalsvd {
namespace {

constexpr int kMaxDevices = 64;

DeviceLimits query_limits(int device) {
  int shared_optin = 0, max_threads = 0, warp = 0;
  cuda_check(cudaDeviceGetAttribute(&shared_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute");
  cuda_check(cudaDeviceGetAttribute(&max_threads, cudaDevAttrMaxThreadsPerBlock, device),
             "cudaDeviceGetAttribute");
  cuda_check(cudaDeviceGetAttribute(&warp, cudaDevAttrWarpSize, device), "cudaDeviceGetAttribute");
  DeviceLimits limits;
  limits.threadgroup_memory_bytes = static_cast<uint32_t>(shared_optin);
  limits.max_threads_per_group = static_cast<uint32_t>(max_threads);
  limits.simd_width = static_cast<uint32_t>(warp);
  limits.supports_fp64 = true;
  limits.supports_bfloat16 = true;
  return limits;
}

struct CudaDevice {
  DeviceLimits limits;
  bool dependent_launch;  // programmatic dependent launch: compute capability 9.0 on
  uint32_t multiprocessors;
};

CudaDevice query_device(int device) {
  int major = 0;
  cuda_check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
             "cudaDeviceGetAttribute");
  int multiprocessors = 0;
  cuda_check(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device),
             "cudaDeviceGetAttribute");
  return {query_limits(device), major >= 9, static_cast<uint32_t>(multiprocessors)};
}

// Device attributes never change: query each device once.
const CudaDevice& cached_device(int device) {
  static std::array<CudaDevice, kMaxDevices> devices;
  static std::array<std::once_flag, kMaxDevices> queried;
  if (device < 0 || device >= kMaxDevices)
    throw Error("metalsvd cuda backend: device index " + std::to_string(device) + " out of range");
  std::call_once(queried[device], [device] { devices[device] = query_device(device); });
  return devices[device];
}

// METALSVD_CUDA_OVERLAP=0 launches every kernel only once the previous one has finished, to
// measure what the overlap of launches (cuda_kernels.h, CudaLaunchOptions) gains.
bool overlap_switched_off() {
  const char* value = std::getenv("METALSVD_CUDA_OVERLAP");
  return value != nullptr && std::strcmp(value, "0") == 0;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, cudaStream_t stream) {
    const CudaDevice& d = cached_device(device);
    limits_ = d.limits;
    multiprocessors_ = d.multiprocessors;
    options_.stream = stream;
    options_.device = device;
    options_.overlap_previous = d.dependent_launch && !overlap_switched_off();
    if (limits_.simd_width != kernels::kSimdWidth)
      throw Error("metalsvd cuda backend: the kernels need a warp of 32 threads");
  }
  const char* name() const override { return "cuda"; }
  const DeviceLimits& limits() const override { return limits_; }
  uint32_t max_threads_for(const std::string& name) override {
    const CudaKernel kernel = find_cuda_kernel(name);
    return kernel.enqueue == nullptr ? limits_.max_threads_per_group
                                     : std::min(limits_.max_threads_per_group, kernel.max_threads);
  }

  uint64_t concurrent_groups(const std::string& name, uint32_t threads) override {
    const CudaKernel kernel = find_cuda_kernel(name);
    if (kernel.occupancy == nullptr || threads == 0 || threads > max_threads_for(name)) return 0;
    int current = -1;
    cuda_check(cudaGetDevice(&current), "cudaGetDevice");
    if (current != options_.device) cuda_check(cudaSetDevice(options_.device), "cudaSetDevice");
    const int blocks = kernel.occupancy(threads);
    if (current != options_.device) cuda_check(cudaSetDevice(current), "cudaSetDevice");
    return static_cast<uint64_t>(blocks) * multiprocessors_;
  }

  void launch(const KernelLaunch& launch) override {
    const CudaKernel kernel = find_cuda_kernel(launch.name);
    if (kernel.enqueue == nullptr)
      throw Error("metalsvd cuda backend: no kernel named " + launch.name);
    if (launch.threadgroup_memory_bytes > limits_.threadgroup_memory_bytes ||
        launch.threads_per_group > std::min(limits_.max_threads_per_group, kernel.max_threads))
      throw Error("metalsvd cuda backend: " + launch.name + " exceeds the device limits");
    int current = -1;
    cuda_check(cudaGetDevice(&current), "cudaGetDevice");
    if (current != options_.device) cuda_check(cudaSetDevice(options_.device), "cudaSetDevice");
    kernel.enqueue(launch, options_);
    if (current != options_.device) cuda_check(cudaSetDevice(current), "cudaSetDevice");
  }

  void gemm(const Gemm& gemm) override {
    check_gemm(gemm, name());
    int current = -1;
    cuda_check(cudaGetDevice(&current), "cudaGetDevice");
    if (current != options_.device) cuda_check(cudaSetDevice(options_.device), "cudaSetDevice");
    cuda_gemm(gemm, options_.device, options_.stream);
    if (current != options_.device) cuda_check(cudaSetDevice(current), "cudaSetDevice");
  }

 private:
  DeviceLimits limits_;
  uint32_t multiprocessors_ = 0;
  CudaLaunchOptions options_;  // the stream and device every launch and GEMM go to
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device, void* stream) {
  return std::make_unique<CudaBackend>(device, static_cast<cudaStream_t>(stream));
}

}  // namespace metalsvd

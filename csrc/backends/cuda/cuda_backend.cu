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
  bool cooperative_launch;
  uint32_t multiprocessors;
};

CudaDevice query_device(int device) {
  int major = 0;
  cuda_check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
             "cudaDeviceGetAttribute");
  int multiprocessors = 0;
  cuda_check(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device),
             "cudaDeviceGetAttribute");
  int cooperative = 0;
  cuda_check(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device),
             "cudaDeviceGetAttribute");
  return {query_limits(device), major >= 9, cooperative != 0,
          static_cast<uint32_t>(multiprocessors)};
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

// Makes `device` current while it lives and the caller's current again after, also when what it
// guards throws: the backend serves one device whichever the caller (PyTorch) has made current.
class CurrentDevice {
 public:
  explicit CurrentDevice(int device) {
    cuda_check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) {
      cuda_check(cudaSetDevice(device), "cudaSetDevice");
      switched_ = true;
    }
  }
  ~CurrentDevice() {
    if (switched_) (void)cudaSetDevice(previous_);  // a destructor must not throw
  }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int previous_ = -1;
  bool switched_ = false;
};

// Whether environment variable `name` is 0, which switches a feature off to measure what it
// gains: METALSVD_CUDA_OVERLAP=0 launches every kernel only once the previous one has finished
// (cuda_kernels.h, CudaLaunchOptions), METALSVD_CUDA_GRID_BARRIERS=0 offers no launches with
// grid barriers (Backend::grid_barrier_groups), so the plan launches their phases one by one.
bool switched_off(const char* name) {
  const char* value = std::getenv(name);
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
    options_.overlap_previous = d.dependent_launch && !switched_off("METALSVD_CUDA_OVERLAP");
    cooperative_ = d.cooperative_launch && !switched_off("METALSVD_CUDA_GRID_BARRIERS");
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
    const CurrentDevice current(options_.device);
    return static_cast<uint64_t>(kernel.occupancy(threads, 0)) * multiprocessors_;
  }

  uint64_t grid_barrier_groups(const std::string& name, uint32_t threads,
                               uint32_t threadgroup_bytes) override {
    const CudaKernel kernel = find_cuda_kernel(name);
    if (!cooperative_ || kernel.occupancy == nullptr || threads == 0 ||
        threads > max_threads_for(name) || threadgroup_bytes > limits_.threadgroup_memory_bytes)
      return 0;
    const CurrentDevice current(options_.device);
    return static_cast<uint64_t>(kernel.occupancy(threads, threadgroup_bytes)) * multiprocessors_;
  }

  void launch(const KernelLaunch& launch) override {
    const CudaKernel kernel = find_cuda_kernel(launch.name);
    if (kernel.enqueue == nullptr)
      throw Error("metalsvd cuda backend: no kernel named " + launch.name);
    if (launch.threadgroup_memory_bytes > limits_.threadgroup_memory_bytes ||
        launch.threads_per_group > std::min(limits_.max_threads_per_group, kernel.max_threads))
      throw Error("metalsvd cuda backend: " + launch.name + " exceeds the device limits");
    const CurrentDevice current(options_.device);
    kernel.enqueue(launch, options_);
  }

  void gemm(const Gemm& gemm) override {
    check_gemm(gemm, name());
    const CurrentDevice current(options_.device);
    cuda_gemm(gemm, options_.device, options_.stream);
  }

 private:
  DeviceLimits limits_;
  uint32_t multiprocessors_ = 0;
  bool cooperative_ = false;   // launches with grid barriers (grid_barrier_groups)
  CudaLaunchOptions options_;  // the stream and device every launch and GEMM go to
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device, void* stream) {
  return std::make_unique<CudaBackend>(device, static_cast<cudaStream_t>(stream));
}

}  // namespace metalsvd

// A backend whose kernels may have fewer threads than the device, for the C++ tests.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <string>

#include "backends/cpu/cpu_backend.h"

namespace metalsvd {
namespace testing {

// A backend whose kernels may have fewer threads than the device (as a Metal pipeline's
// maxTotalThreadsPerThreadgroup can say): the cpu emulator underneath, with a limit per kernel
// name, recording the most threads each kernel was launched with; and saying, where `concurrent`
// is set, how many groups of a number of threads it runs at once, as a GPU backend can.
class LimitedBackend final : public Backend {
 public:
  explicit LimitedBackend(std::map<std::string, uint32_t> limits,
                          const emu::EmulatorOptions& options = {})
      : cpu_(options), limits_(std::move(limits)) {}
  const char* name() const override { return "limited cpu"; }
  const DeviceLimits& limits() const override { return cpu_.limits(); }
  void launch(const KernelLaunch& launch) override {
    uint32_t& most = launched_[launch.name];
    most = std::max(most, launch.threads_per_group);
    ++calls_[launch.name];
    cpu_.launch(launch);
  }
  void gemm(const Gemm& gemm) override { cpu_.gemm(gemm); }
  uint32_t max_threads_for(const std::string& kernel) override {
    const auto it = limits_.find(kernel);
    return it == limits_.end() ? cpu_.max_threads_for(kernel) : it->second;
  }
  uint64_t concurrent_groups(const std::string&, uint32_t threads) override {
    return concurrent ? concurrent(threads) : 0;
  }
  uint64_t grid_barrier_groups(const std::string& kernel, uint32_t threads,
                               uint32_t threadgroup_bytes) override {
    return cpu_.grid_barrier_groups(kernel, threads, threadgroup_bytes);
  }
  std::function<uint64_t(uint32_t threads)> concurrent;

  uint32_t launched(const std::string& kernel) const {
    const auto it = launched_.find(kernel);
    return it == launched_.end() ? 0 : it->second;
  }
  uint32_t calls(const std::string& kernel) const {
    const auto it = calls_.find(kernel);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  CpuBackend cpu_;
  std::map<std::string, uint32_t> limits_;
  std::map<std::string, uint32_t> launched_;
  std::map<std::string, uint32_t> calls_;
};

}  // namespace testing
}  // namespace metalsvd

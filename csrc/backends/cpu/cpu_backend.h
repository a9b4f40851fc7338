// The cpu backend: runs the portable kernels through the threadgroup emulator. Its limits
// default to an Apple GPU's, so what passes here is what the Metal backend will be asked to run.
#pragma once

#include "backend.h"
#include "backends/cpu/emulator.h"

namespace metalsvd {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const emu::EmulatorOptions& options = {});
  const char* name() const override { return "cpu"; }
  const DeviceLimits& limits() const override { return limits_; }
  void launch(const KernelLaunch& launch) override;
  void gemm(const Gemm& gemm) override;
  // As many as EmulatorOptions::resident_threads allow: none by default, as on Metal.
  uint64_t grid_barrier_groups(const std::string& name, uint32_t threads,
                               uint32_t threadgroup_bytes) override;
  const emu::EmulatorOptions& options() const { return options_; }

 private:
  emu::EmulatorOptions options_;
  DeviceLimits limits_;
};

}  // namespace metalsvd

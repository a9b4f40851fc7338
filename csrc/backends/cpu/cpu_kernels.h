// The kernels the cpu backend instantiates, by name.
#pragma once

#include "backend.h"
#include "backends/cpu/emulator.h"

namespace metalsvd {

// Runs one launch of a kernel on the emulator; the launch was already checked by the backend.
using CpuKernel = void (*)(const KernelLaunch& launch, const emu::EmulatorOptions& options);

// The kernel instantiated under `name`, or nullptr.
CpuKernel find_cpu_kernel(const std::string& name);

}  // namespace metalsvd

// The backend that runs work for a tensor's device, on PyTorch's current stream.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "backend.h"
#include "backends/cpu/emulator.h"

namespace metalsvd {

// cpu -> the threadgroup emulator; cuda -> the CUDA backend on the current stream.
// Raises for devices this build has no backend for.
std::unique_ptr<Backend> backend_for(const at::Tensor& t, const char* function);

// Process-wide options of the emulator used for CPU tensors (tests set seeds with them).
emu::EmulatorOptions emulator_options();
void set_emulator_options(const emu::EmulatorOptions& options);

}  // namespace metalsvd

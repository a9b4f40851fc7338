#include "torch/device_backend.h"

#include <c10/util/Exception.h>

#include <mutex>

#include "backends/cpu/cpu_backend.h"

#ifdef METALSVD_WITH_CUDA
#include <c10/cuda/CUDAStream.h>

#include "backends/cuda/cuda_backend.h"
#endif

#ifdef METALSVD_WITH_METAL
#include "torch/mps_backend.h"
#endif

namespace metalsvd {
namespace {

std::mutex g_emulator_mutex;
emu::EmulatorOptions g_emulator_options;

}  // namespace

emu::EmulatorOptions emulator_options() {
  std::lock_guard<std::mutex> lock(g_emulator_mutex);
  return g_emulator_options;
}

void set_emulator_options(const emu::EmulatorOptions& options) {
  std::lock_guard<std::mutex> lock(g_emulator_mutex);
  g_emulator_options = options;
}

std::unique_ptr<Backend> backend_for(const at::Tensor& t, const char* function) {
  if (t.device().is_cpu()) return std::make_unique<CpuBackend>(emulator_options());
#ifdef METALSVD_WITH_CUDA
  if (t.device().is_cuda()) {
    const c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream(t.device().index());
    return make_cuda_backend(t.device().index(), stream.stream());
  }
#endif
#ifdef METALSVD_WITH_METAL
  if (t.device().is_mps()) return make_mps_backend();
#endif
  TORCH_CHECK(false, function, ": tensors on ", t.device(),
              " are not supported by this build of metalsvd (it has backends for cpu",
#ifdef METALSVD_WITH_CUDA
              ", cuda",
#endif
#ifdef METALSVD_WITH_METAL
              ", mps",
#endif
              ")");
}

}  // namespace metalsvd

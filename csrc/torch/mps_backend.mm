// PyTorch's MPS stream as the metal backend's encoding context. Encoding follows PyTorch's own
// Metal kernels: on the stream's serial queue (dispatch_sync), with the stream's compute encoder
// taken inside the block (never kept across calls: the stream ends and replaces it), and no ATen
// call inside the block (it may re-enter the queue: pytorch#163721, pytorch#197836).
// tools/check-metal enforces these rules on this file.
#include "torch/mps_backend.h"

#include <ATen/mps/MPSStream.h>
#include <c10/util/Exception.h>

#include <exception>
#include <memory>
#include <string>

#include "backends/metal/metal_backend.h"
#include "core/errors.h"

namespace metalsvd {
namespace {

// Runs `body`, writing what it threw to `failure`: an exception must not cross libdispatch.
void run_catching(dispatch_block_t body, std::string* failure) {
  @autoreleasepool {
    try {
      @try {
        body();
      } @catch (NSException* exception) {
        const char* reason = exception.reason.UTF8String;
        *failure = reason == nullptr ? "an Objective-C exception" : reason;
      }
    } catch (const std::exception& e) {
      *failure = e.what();
    } catch (...) {
      *failure = "an unknown exception";
    }
  }
}

void raise_if_failed(const std::string& failure) {
  if (!failure.empty()) throw Error("metalsvd metal backend: encoding failed: " + failure);
}

class MpsStreamContext final : public MetalEncodingContext {
 public:
  explicit MpsStreamContext(at::mps::MPSStream* stream)
      : stream_(stream), device_(stream->device()) {}

  id<MTLDevice> device() const override { return device_; }

  void encode_compute(void (^encode)(id<MTLComputeCommandEncoder> encoder)) override {
    at::mps::MPSStream* stream = stream_;
    std::string failure;
    std::string* failure_slot = &failure;
    dispatch_sync(stream->queue(), ^{
      run_catching(
          ^{
            encode(stream->commandEncoder());
          },
          failure_slot);
    });
    raise_if_failed(failure);
  }

  void encode_commands(void (^encode)(id<MTLCommandBuffer> command_buffer)) override {
    at::mps::MPSStream* stream = stream_;
    std::string failure;
    std::string* failure_slot = &failure;
    dispatch_sync(stream->queue(), ^{
      run_catching(
          ^{
            stream->endKernelCoalescing();
            encode(stream->commandBuffer());
          },
          failure_slot);
    });
    raise_if_failed(failure);
  }

 private:
  at::mps::MPSStream* stream_;
  id<MTLDevice> device_;
};

}  // namespace

std::unique_ptr<Backend> make_mps_backend() {
  at::mps::MPSStream* stream = at::mps::getCurrentMPSStream();
  TORCH_CHECK(stream != nullptr, "metalsvd: PyTorch has no current MPS stream");
  return make_metal_backend(std::make_shared<MpsStreamContext>(stream));
}

}  // namespace metalsvd

#include "backends/metal/metal_backend.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "backends/metal/metal_gemm.h"
#include "backends/metal/metal_library.h"
#include "core/errors.h"
#include "kernels/dialect.h"
#include "kernels/matrix_transfer.h"

namespace metalsvd {
namespace {

// setThreadgroupMemoryLength takes multiples of 16 bytes.
constexpr uint64_t kThreadgroupMemoryGranule = 16;
// setBytes is for parameter blocks up to 4 KiB.
constexpr uint32_t kMaxParamsBytes = 4096;
constexpr uint32_t kZeroFillThreads = 256;

uint64_t round_up(uint64_t x, uint64_t granule) { return (x + granule - 1) / granule * granule; }

DeviceLimits query_limits(id<MTLDevice> device, const MetalKernelLibrary& library) {
  DeviceLimits limits;
  limits.threadgroup_memory_bytes = static_cast<uint32_t>(device.maxThreadgroupMemoryLength);
  limits.max_threads_per_group = static_cast<uint32_t>(device.maxThreadsPerThreadgroup.width);
  limits.simd_width = kernels::kSimdWidth;  // checked against each pipeline's execution width
  limits.supports_fp64 = false;             // Metal has no double
  limits.supports_bfloat16 = library.has_bfloat16();
  return limits;
}

class MetalBackend final : public Backend {
 public:
  explicit MetalBackend(std::shared_ptr<MetalEncodingContext> context)
      : context_(std::move(context)),
        library_(MetalKernelLibrary::for_device(context_->device())),
        limits_(query_limits(context_->device(), library_)) {}

  const char* name() const override { return "metal"; }
  const DeviceLimits& limits() const override { return limits_; }

  void launch(const KernelLaunch& launch) override {
    if (launch.grid_barriers)
      throw Error("metalsvd metal backend: " + launch.name +
                  " needs grid barriers, which Metal does not have");
    id<MTLComputePipelineState> pipeline = library_.pipeline(launch.name);
    check(launch, pipeline);
    if (launch.groups == 0) return;
    const KernelLaunch* l = &launch;
    const NSUInteger threadgroup_bytes =
        round_up(launch.threadgroup_memory_bytes, kThreadgroupMemoryGranule);
    context_->encode_compute(^(id<MTLComputeCommandEncoder> encoder) {
      // A concurrent encoder would let this dispatch overlap the previous ones.
      const bool concurrent = encoder.dispatchType == MTLDispatchTypeConcurrent;
      if (concurrent) [encoder memoryBarrierWithScope:MTLBarrierScopeBuffers];
      [encoder setComputePipelineState:pipeline];
      [encoder setBytes:l->params length:l->params_size atIndex:0];
      for (size_t i = 0; i < static_cast<size_t>(l->num_buffers); ++i)
        [encoder setBuffer:(__bridge id<MTLBuffer>)l->buffers[i].handle
                    offset:l->buffers[i].offset
                   atIndex:i + 1];
      if (threadgroup_bytes > 0) [encoder setThreadgroupMemoryLength:threadgroup_bytes atIndex:0];
      [encoder dispatchThreadgroups:MTLSizeMake(l->groups, 1, 1)
              threadsPerThreadgroup:MTLSizeMake(l->threads_per_group, 1, 1)];
      if (concurrent) [encoder memoryBarrierWithScope:MTLBarrierScopeBuffers];
    });
  }

  uint32_t max_threads_for(const std::string& kernel) override {
    const NSUInteger pipeline_threads = library_.pipeline(kernel).maxTotalThreadsPerThreadgroup;
    return static_cast<uint32_t>(
        std::min<NSUInteger>(pipeline_threads, limits_.max_threads_per_group));
  }

  void gemm(const Gemm& gemm) override {
    check_gemm(gemm, name());
    // MPSMatrixMultiplication's documentation does not promise that beta = 0 leaves the result
    // unread, and a fresh workspace may hold nan (0 * nan = nan): zero exactly c's elements
    // first, with the portable kernel every backend has.
    if (gemm.beta == 0) zero(gemm.c);
    metal_gemm(gemm, *context_);
  }

 private:
  void zero(const MatrixBatch& c) {
    // matrix_set_identity writes column-major views; a row-major c is its transpose.
    const MatrixBatch w = c.row_stride == 1 || c.rows <= 1 ? c : transposed(c);
    kernels::MatrixTransferParams p{};
    p.work_batch_stride = w.batch_stride;
    p.batch = w.batch;
    p.work_ld = static_cast<uint32_t>(std::max<int64_t>(w.col_stride, 1));
    p.work_rows = w.rows;
    p.work_cols = w.cols;
    const uint64_t elements = uint64_t{w.rows} * w.cols;
    p.groups_per_matrix =
        static_cast<uint32_t>(std::clamp<uint64_t>(elements / (kZeroFillThreads * 8), 1, 1024));
    p.threads = kZeroFillThreads;
    p.diagonal_offset = static_cast<int32_t>(w.rows);  // row == col + rows never holds: zeros
    KernelLaunch launch;
    launch.name = "matrix_set_identity_f32";
    launch.groups = w.batch * p.groups_per_matrix;
    launch.threads_per_group = kZeroFillThreads;
    launch.params = &p;
    launch.params_size = sizeof p;
    for (Buffer& b : launch.buffers) b = w.data;
    launch.num_buffers = 6;
    this->launch(launch);
  }

  // Every launch limit, checked before anything is encoded.
  void check(const KernelLaunch& launch, id<MTLComputePipelineState> pipeline) const {
    const std::string where = "metalsvd metal backend: " + launch.name + ": ";
    if (launch.params == nullptr || launch.params_size == 0 || launch.params_size > kMaxParamsBytes)
      throw Error(where + "needs a parameter block of 1 to " + std::to_string(kMaxParamsBytes) +
                  " bytes, got " + std::to_string(launch.params_size));
    if (launch.num_buffers < 0 || launch.num_buffers > kMaxKernelBuffers)
      throw Error(where + std::to_string(launch.num_buffers) + " buffers");
    const NSUInteger pipeline_threads = pipeline.maxTotalThreadsPerThreadgroup;
    if (launch.threads_per_group == 0 || launch.threads_per_group > pipeline_threads ||
        launch.threads_per_group > limits_.max_threads_per_group)
      throw Error(where + std::to_string(launch.threads_per_group) +
                  " threads per threadgroup; this pipeline takes at most " +
                  std::to_string(pipeline_threads) + " (the device " +
                  std::to_string(limits_.max_threads_per_group) + ")");
    if (launch.threads_per_group % kernels::kSimdWidth != 0)
      throw Error(where + std::to_string(launch.threads_per_group) +
                  " threads per threadgroup is not a whole number of 32-thread SIMD groups");
    const uint64_t threadgroup_bytes =
        round_up(launch.threadgroup_memory_bytes, kThreadgroupMemoryGranule) +
        pipeline.staticThreadgroupMemoryLength;
    if (threadgroup_bytes > limits_.threadgroup_memory_bytes)
      throw Error(where + std::to_string(threadgroup_bytes) +
                  " bytes of threadgroup memory; the device has " +
                  std::to_string(limits_.threadgroup_memory_bytes));
  }

  std::shared_ptr<MetalEncodingContext> context_;
  MetalKernelLibrary& library_;
  DeviceLimits limits_;
};

}  // namespace

std::unique_ptr<Backend> make_metal_backend(std::shared_ptr<MetalEncodingContext> context) {
  if (context == nullptr || context->device() == nil)
    throw Error("metalsvd metal backend: no Metal device");
  return std::make_unique<MetalBackend>(std::move(context));
}

}  // namespace metalsvd

// Times the back-transformation kernel (kernels/band_back_transform.h) alone, for a number of
// stages a group, on synthetic reflectors: random vectors of each reflector's length, tau 2/v.v,
// so that every one is orthogonal and the kernel must keep X's norm (checked). Built apart from
// the extension, in seconds:
//   nvcc -O3 -std=c++17 -arch=sm_90 -I csrc -o bt bench/cuda/band_back_transform_bench.cu
//   ./bt 8192 4 8 16      (n = columns of X, then the stages to time)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/band_back_transform.h"

using namespace metalsvd::kernels;

namespace {

constexpr uint32_t kBand = kBandMax;

__global__ void __launch_bounds__(512)
    back_transform(BandBackTransformParams p, float* x, float* reflectors) {
  const ThreadContext ctx{threadIdx.x, blockIdx.x, threadIdx.x % kSimdWidth,
                          threadIdx.x / kSimdWidth};
  band_back_transform<BandBackTransformParams, float, float>(p, nullptr, x, reflectors, nullptr,
                                                             nullptr, nullptr, nullptr, ctx);
}

__device__ float uniform(uint64_t i) {  // splitmix64's finaliser: a value in [-0.5, 0.5)
  i ^= i >> 33;
  i *= 0xff51afd7ed558ccdULL;
  i ^= i >> 33;
  i *= 0xc4ceb9fe1a85ec53ULL;
  i ^= i >> 33;
  return static_cast<float>(i >> 40) * (1.0f / 16777216.0f) - 0.5f;
}

// Slot t holds sweep s's task k (band_reflector_slot), acting on rows s + 1 + k band onwards.
__global__ void fill_reflectors(float* slots, uint32_t n) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= band_reflector_slots(n, kBand)) return;
  uint32_t k = 0;
  while (band_task_first_slot(n, kBand, k + 1) <= t) ++k;
  const uint32_t s = static_cast<uint32_t>(t - band_task_first_slot(n, kBand, k));
  const uint32_t first_row = s + 1 + k * kBand;
  const uint32_t length = n - first_row < kBand ? n - first_row : kBand;
  float* r = slots + t * kBandReflectorSize;
  float squares = 0;
  for (uint32_t i = 0; i < kBandReflectorSize; ++i) {
    const float v = i == 0 ? 1.0f : i < length ? uniform(t * kBandReflectorSize + i) : 0.0f;
    if (i < kBandMax) {
      r[i] = v;
      squares += v * v;
    } else {
      r[i] = 0;
    }
  }
  r[kBandReflectorTau] = 2.0f / squares;
}

__global__ void fill_matrix(float* x, int64_t count) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < count) x[i] = uniform(i + 0x9e3779b97f4a7c15ULL);
}

double squared_norm(const float* x, int64_t count) {
  std::vector<float> host(count);
  cudaMemcpy(host.data(), x, sizeof(float) * count, cudaMemcpyDeviceToHost);
  double sum = 0;
  for (float v : host) sum += static_cast<double>(v) * v;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s n stages...\n", argv[0]);
    return 2;
  }
  const uint32_t n = static_cast<uint32_t>(std::atoi(argv[1]));
  const int64_t elements = static_cast<int64_t>(n) * n;
  const int64_t slots = band_reflector_slots(n, kBand);
  float *x = nullptr, *reflectors = nullptr;
  cudaMalloc(&x, sizeof(float) * elements);
  cudaMalloc(&reflectors, sizeof(float) * slots * kBandReflectorSize);
  fill_reflectors<<<static_cast<unsigned>((slots + 255) / 256), 256>>>(reflectors, n);
  fill_matrix<<<static_cast<unsigned>((elements + 255) / 256), 256>>>(x, elements);
  const uint32_t groups = band_sweep_groups(n, kBand);
  int status = 0;
  for (int a = 2; a < argc; ++a) {
    const uint32_t stages = std::min(static_cast<uint32_t>(std::atoi(argv[a])), groups);
    BandBackTransformParams p{};
    p.x_batch_stride = elements;
    p.x_row_stride = n;  // X stored by rows, as the SVD gives it to the kernel
    p.x_col_stride = 1;
    p.reflector_batch_stride = slots * kBandReflectorSize;
    p.batch = 1;
    p.n = n;
    p.cols = n;
    p.band = kBand;
    p.threads = stages * kBackTransformColumns;
    p.last_group = groups - 1;
    p.slices = (n + kBackTransformColumns - 1) / kBackTransformColumns;
    const double before = squared_norm(x, elements);
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    float best = INFINITY;
    for (int r = 0; r < 5; ++r) {
      cudaEventRecord(start);
      back_transform<<<p.slices, p.threads>>>(p, x, reflectors);
      cudaEventRecord(stop);
      cudaEventSynchronize(stop);
      float ms = 0;
      cudaEventElapsedTime(&ms, start, stop);
      best = std::fmin(best, ms);
    }
    const cudaError_t error = cudaGetLastError();
    const double change = std::fabs(std::sqrt(squared_norm(x, elements) / before) - 1);
    const bool kept = error == cudaSuccess && change < 1e-4;
    std::printf("n %5u  stages %2u  %8.2f ms (best of 5)  norm change after 5 %.1e  %s\n", n,
                stages, best, change, kept ? "ok" : cudaGetErrorString(error));
    if (!kept) status = 1;
  }
  return status;
}

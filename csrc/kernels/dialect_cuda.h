// CUDA instantiation of the kernel dialect (see dialect.h).
#pragma once

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>
#include <stdint.h>

#define MSVD_DEVICE
#define MSVD_THREADGROUP
#define MSVD_CONSTANT
#define MSVD_INLINE __device__ __forceinline__
#define MSVD_HOST_DEVICE __host__ __device__ inline
#define MSVD_UNROLL _Pragma("unroll")

namespace metalsvd {
namespace kernels {

using half_t = __half;
using bfloat16_t = __nv_bfloat16;

template <typename C>
struct NumericLimits;
template <>
struct NumericLimits<float> {
  MSVD_INLINE static float epsilon() { return 1.1920928955078125e-7f; }
  MSVD_INLINE static float min_normal() { return 1.17549435e-38f; }
  MSVD_INLINE static float infinity() { return CUDART_INF_F; }
  MSVD_INLINE static float quiet_nan() { return CUDART_NAN_F; }
};
template <>
struct NumericLimits<double> {
  MSVD_INLINE static double epsilon() { return 2.220446049250313e-16; }
  MSVD_INLINE static double min_normal() { return 2.2250738585072014e-308; }
  MSVD_INLINE static double infinity() { return CUDART_INF; }
  MSVD_INLINE static double quiet_nan() { return CUDART_NAN; }
};

// Conversions are explicit: PyTorch builds CUDA code with the implicit half/bfloat16
// conversions disabled.
template <typename C>
MSVD_INLINE C to_compute(float x) {
  return static_cast<C>(x);
}
template <typename C>
MSVD_INLINE C to_compute(double x) {
  return static_cast<C>(x);
}
template <typename C>
MSVD_INLINE C to_compute(__half x) {
  return static_cast<C>(__half2float(x));
}
template <typename C>
MSVD_INLINE C to_compute(__nv_bfloat16 x) {
  return static_cast<C>(__bfloat162float(x));
}

template <typename T>
struct FromCompute {
  template <typename C>
  MSVD_INLINE static T convert(C x) {
    return static_cast<T>(x);
  }
};
template <>
struct FromCompute<__half> {
  MSVD_INLINE static __half convert(float x) { return __float2half_rn(x); }
};
template <>
struct FromCompute<__nv_bfloat16> {
  MSVD_INLINE static __nv_bfloat16 convert(float x) { return __float2bfloat16_rn(x); }
};
template <typename T, typename C>
MSVD_INLINE T from_compute(C x) {
  return FromCompute<T>::convert(x);
}

MSVD_INLINE float math_sqrt(float x) { return sqrtf(x); }
MSVD_INLINE double math_sqrt(double x) { return sqrt(x); }
MSVD_INLINE float math_abs(float x) { return fabsf(x); }
MSVD_INLINE double math_abs(double x) { return fabs(x); }
MSVD_INLINE float math_fma(float a, float b, float c) { return fmaf(a, b, c); }
MSVD_INLINE double math_fma(double a, double b, double c) { return fma(a, b, c); }
MSVD_INLINE float math_max(float a, float b) { return fmaxf(a, b); }
MSVD_INLINE double math_max(double a, double b) { return fmax(a, b); }
MSVD_INLINE bool math_isfinite(float x) { return isfinite(x); }
MSVD_INLINE bool math_isfinite(double x) { return isfinite(x); }
// x = f * 2^e with f in [0.5, 1): returns e (0 for x == 0).
MSVD_INLINE int math_exponent(float x) {
  int e = 0;
  frexpf(x, &e);
  return e;
}
MSVD_INLINE int math_exponent(double x) {
  int e = 0;
  frexp(x, &e);
  return e;
}
MSVD_INLINE float math_ldexp(float x, int e) { return ldexpf(x, e); }
MSVD_INLINE double math_ldexp(double x, int e) { return ldexp(x, e); }

MSVD_INLINE void group_barrier() { __syncthreads(); }
// __syncthreads also orders global memory among the threads of a block.
MSVD_INLINE void group_barrier_with_device_memory() { __syncthreads(); }

// One 16-byte access for float, two for double (the widest CUDA load).
MSVD_INLINE Quad<float> load_quad(const float* p) {
  const float4 q = *reinterpret_cast<const float4*>(p);
  return {{q.x, q.y, q.z, q.w}};
}
MSVD_INLINE Quad<double> load_quad(const double* p) {
  const double2 low = reinterpret_cast<const double2*>(p)[0];
  const double2 high = reinterpret_cast<const double2*>(p)[1];
  return {{low.x, low.y, high.x, high.y}};
}

// Programmatic dependent launch (compute capability 9.0 on): the workspace kernels run as long
// chains of short launches, so each one's launch latency is a large part of its time. Launched
// with overlap (backends/cuda/cuda_kernels.cu), a kernel may start while the previous kernel of
// the stream runs; here it waits until that kernel has finished and its writes are visible,
// then lets the next kernel of the stream start in turn. A kernel asks for the wait once, in
// every thread, before its first access to anything the previous launch may write.
MSVD_INLINE void wait_for_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  cudaGridDependencySynchronize();
  cudaTriggerProgrammaticLaunchCompletion();
#endif
}

// The groups of a cooperative launch (KernelLaunch::grid_barriers), all resident at once, meet
// here; the writes of every group before it are visible to every group after it.
MSVD_INLINE void grid_barrier() { cooperative_groups::this_grid().sync(); }

// What another block wrote before the last grid barrier, read from L2 (ld.global.cg): a
// multiprocessor's L1 is not coherent with the others', and may still hold the line from an
// earlier read of the same address.
template <typename C>
MSVD_INLINE C load_coherent(const C* p) {
  return __ldcg(p);
}

// Fire and forget: no register waits for the line, so a SIMD group can ask for the lines of
// data it reads only later without holding them.
template <typename C>
MSVD_INLINE void prefetch(const C* p) {
  asm volatile("prefetch.L1 [%0];" ::"l"(p));
}

template <typename X>
MSVD_INLINE X shuffle_xor(X x, uint32_t lane_mask) {
  return __shfl_xor_sync(0xffffffffu, x, static_cast<int>(lane_mask));
}
template <typename X>
MSVD_INLINE X simd_broadcast(X x, uint32_t lane) {
  return __shfl_sync(0xffffffffu, x, static_cast<int>(lane));
}
template <typename X>
MSVD_INLINE X simd_reduce_sum(X x) {
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}
template <typename X>
MSVD_INLINE X simd_reduce_max(X x) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    X other = __shfl_xor_sync(0xffffffffu, x, offset);
    x = other > x ? other : x;
  }
  return x;
}

}  // namespace kernels
}  // namespace metalsvd

// Metal instantiation of the kernel dialect (see dialect.h). Also compiled on Linux by clang
// through the address-space shim (tools/metal-shim), which is how CI type-checks it.
#pragma once

#include <metal_stdlib>

#define MSVD_DEVICE device
#define MSVD_THREADGROUP threadgroup
#define MSVD_CONSTANT constant
#define MSVD_INLINE inline
#define MSVD_HOST_DEVICE inline
#define MSVD_UNROLL _Pragma("unroll")

namespace metalsvd {
namespace kernels {

using half_t = half;
#if defined(__HAVE_BFLOAT__)
using bfloat16_t = bfloat;
#endif

// Metal has no double: only float is a compute type here.
template <typename C>
struct NumericLimits;
template <>
struct NumericLimits<float> {
  static inline float epsilon() { return 1.1920928955078125e-7f; }
  static inline float min_normal() { return 1.17549435e-38f; }
  static inline float infinity() { return INFINITY; }
  static inline float quiet_nan() { return NAN; }
};

template <typename C, typename T>
inline C to_compute(T x) {
  return static_cast<C>(x);
}
template <typename T, typename C>
inline T from_compute(C x) {
  return static_cast<T>(x);
}

inline float math_sqrt(float x) { return metal::sqrt(x); }
inline float math_abs(float x) { return metal::fabs(x); }
// a * b + c rounded once.
inline float math_fma(float a, float b, float c) { return metal::fma(a, b, c); }
inline float math_max(float a, float b) { return metal::fmax(a, b); }
// Needs the library compiled without fast math, which would fold this to true.
inline bool math_isfinite(float x) { return metal::isfinite(x); }
inline int math_exponent(float x) {
  int e = 0;
  metal::frexp(x, e);
  return e;
}
inline float math_ldexp(float x, int e) { return metal::ldexp(x, e); }

inline void group_barrier() { metal::threadgroup_barrier(metal::mem_flags::mem_threadgroup); }
inline void group_barrier_with_device_memory() {
  metal::threadgroup_barrier(metal::mem_flags::mem_device | metal::mem_flags::mem_threadgroup);
}

// One access of a float4 (16-byte aligned, as a float4 must be).
inline Quad<float> load_quad(device const float* p) {
  const float4 q = *reinterpret_cast<device const float4*>(p);
  return {{q.x, q.y, q.z, q.w}};
}
inline Quad<float> load_quad(threadgroup const float* p) {
  const float4 q = *reinterpret_cast<threadgroup const float4*>(p);
  return {{q.x, q.y, q.z, q.w}};
}

// The backend encodes a call's dispatches in order, with a buffer barrier between them where the
// encoder is concurrent: a dispatch starts after the previous one has finished.
inline void wait_for_previous_kernel() {}

// The Metal Shading Language has no prefetch; the hint is dropped.
template <typename C>
inline void prefetch(device const C*) {}

template <typename X>
inline X shuffle_xor(X x, uint32_t lane_mask) {
  return metal::simd_shuffle_xor(x, static_cast<ushort>(lane_mask));
}
// Metal asks for the same broadcast lane in every thread of the SIMD group.
template <typename X>
inline X simd_broadcast(X x, uint32_t lane) {
  return metal::simd_broadcast(x, static_cast<ushort>(lane));
}
template <typename X>
inline X simd_reduce_sum(X x) {
  return metal::simd_sum(x);
}
template <typename X>
inline X simd_reduce_max(X x) {
  return metal::simd_max(x);
}

}  // namespace kernels
}  // namespace metalsvd

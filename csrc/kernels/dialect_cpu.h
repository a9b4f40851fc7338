// CPU instantiation of the kernel dialect (see dialect.h): each GPU thread is a fiber of the
// threadgroup emulator (backends/cpu/emulator.h), which implements the intrinsics declared here.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#define MSVD_DEVICE
#define MSVD_THREADGROUP
#define MSVD_CONSTANT
#define MSVD_INLINE inline
#define MSVD_HOST_DEVICE inline
#define MSVD_UNROLL

namespace metalsvd {

namespace emu {
// Operations that exchange values among the 32 lanes of a SIMD group. Each is a
// synchronisation point of that SIMD group in the emulator.
enum class SimdOp : uint32_t { shuffle_xor, broadcast, sum_f32, sum_f64, max_f32, max_f64 };
// Blocks the calling fiber until every thread of its threadgroup reaches the barrier at the
// same source line; raises an emulator error if that cannot happen.
void barrier(bool with_device_memory, int line);
// Blocks until all 32 lanes of the caller's SIMD group reach the same operation, then returns
// this lane's result (raw bits of a value of up to 8 bytes).
uint64_t simd_exchange(SimdOp op, uint64_t value_bits, uint32_t argument, int line);
// Raises an emulator error: a wide load (load_quad) at an address not aligned to its size,
// which faults on CUDA and is undefined on Metal.
void misaligned_load(const void* address, uint32_t alignment, int line);
// Blocks the calling fiber until every thread of every group of the launch reaches a grid
// barrier (the launch runs its groups at once: emu::GridBarriers).
void grid_barrier(int line);
// Counts the calling thread's wait for the previous kernel (checked against the kernel's
// emu::PreviousKernelWait when the group ends).
void previous_kernel_wait();
}  // namespace emu

namespace kernels {

// IEEE binary16 and bfloat16 storage, bit-compatible with PyTorch's CPU tensors.
struct half_t {
  uint16_t bits;
};
struct bfloat16_t {
  uint16_t bits;
};

inline float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint32_t bits_from_float(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float half_to_float(half_t h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000u) << 16;
  const uint32_t exponent = (h.bits >> 10) & 0x1fu;
  const uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0x1f) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Subnormal half: exact in float as mantissa * 2^-24.
  const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  return sign ? -magnitude : magnitude;
}

inline half_t float_to_half(float f) {
  const uint32_t x = bits_from_float(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs_bits = x & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u)  // inf or nan
    return {static_cast<uint16_t>(sign | 0x7c00u | (abs_bits > 0x7f800000u ? 0x200u : 0u))};
  if (abs_bits >= 0x477ff000u) return {static_cast<uint16_t>(sign | 0x7c00u)};  // rounds to inf
  if (abs_bits < 0x38800000u) {
    // Result is subnormal or zero: round |f| / 2^-24 to the nearest integer, ties to even.
    const float scaled = std::ldexp(float_from_bits(abs_bits), 24);
    return {static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled)))};
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
  const uint32_t rebased = abs_bits - (112u << 23);
  const uint32_t rounded = rebased + 0xfffu + ((rebased >> 13) & 1u);
  return {static_cast<uint16_t>(sign | (rounded >> 13))};
}

inline float bfloat16_to_float(bfloat16_t b) {
  return float_from_bits(static_cast<uint32_t>(b.bits) << 16);
}

inline bfloat16_t float_to_bfloat16(float f) {
  const uint32_t x = bits_from_float(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((x >> 16) | 0x40u)};  // nan
  const uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);
  return {static_cast<uint16_t>(rounded >> 16)};
}

template <typename C>
struct NumericLimits {
  static C epsilon() { return std::numeric_limits<C>::epsilon(); }
  static C min_normal() { return std::numeric_limits<C>::min(); }
  static C infinity() { return std::numeric_limits<C>::infinity(); }
  static C quiet_nan() { return std::numeric_limits<C>::quiet_NaN(); }
};

template <typename C>
inline C to_compute(float x) {
  return static_cast<C>(x);
}
template <typename C>
inline C to_compute(double x) {
  return static_cast<C>(x);
}
template <typename C>
inline C to_compute(half_t x) {
  return static_cast<C>(half_to_float(x));
}
template <typename C>
inline C to_compute(bfloat16_t x) {
  return static_cast<C>(bfloat16_to_float(x));
}

template <typename T>
struct FromCompute {
  template <typename C>
  static T convert(C x) {
    return static_cast<T>(x);
  }
};
template <>
struct FromCompute<half_t> {
  static half_t convert(float x) { return float_to_half(x); }
};
template <>
struct FromCompute<bfloat16_t> {
  static bfloat16_t convert(float x) { return float_to_bfloat16(x); }
};
template <typename T, typename C>
inline T from_compute(C x) {
  return FromCompute<T>::convert(x);
}

template <typename C>
inline C math_sqrt(C x) {
  return std::sqrt(x);
}
template <typename C>
inline C math_abs(C x) {
  return std::fabs(x);
}
// a * b + c rounded once.
template <typename C>
inline C math_fma(C a, C b, C c) {
  return std::fma(a, b, c);
}
template <typename C>
inline C math_max(C a, C b) {
  return std::fmax(a, b);
}
template <typename C>
inline bool math_isfinite(C x) {
  return std::isfinite(x);
}
template <typename C>
inline int math_exponent(C x) {
  int e = 0;
  std::frexp(x, &e);
  return e;
}
template <typename C>
inline C math_ldexp(C x, int e) {
  return std::ldexp(x, e);
}

inline void group_barrier(int line = __builtin_LINE()) { emu::barrier(false, line); }
inline void group_barrier_with_device_memory(int line = __builtin_LINE()) {
  emu::barrier(true, line);
}

template <typename X>
inline uint64_t to_bits64(X x) {
  static_assert(sizeof(X) <= sizeof(uint64_t), "SIMD exchange carries at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof x);
  return bits;
}
template <typename X>
inline X from_bits64(uint64_t bits) {
  X x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

template <typename C>
inline Quad<C> load_quad(const C* p, int line = __builtin_LINE()) {
  const uint32_t alignment = 4 * sizeof(C);
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) emu::misaligned_load(p, alignment, line);
  return {{p[0], p[1], p[2], p[3]}};
}

// The emulator runs a launch to its end before it starts the next: nothing to wait for, but it
// holds each kernel to waiting where it says it does.
inline void wait_for_previous_kernel() { emu::previous_kernel_wait(); }

inline void grid_barrier(int line = __builtin_LINE()) { emu::grid_barrier(line); }

// The emulator has no cache to go past.
template <typename C>
inline C load_coherent(const C* p) {
  return *p;
}

// The emulator has no cache to fill.
template <typename C>
inline void prefetch(const C*) {}

template <typename X>
inline X shuffle_xor(X x, uint32_t lane_mask, int line = __builtin_LINE()) {
  return from_bits64<X>(
      emu::simd_exchange(emu::SimdOp::shuffle_xor, to_bits64(x), lane_mask, line));
}
template <typename X>
inline X simd_broadcast(X x, uint32_t lane, int line = __builtin_LINE()) {
  return from_bits64<X>(emu::simd_exchange(emu::SimdOp::broadcast, to_bits64(x), lane, line));
}
inline float simd_reduce_sum(float x, int line = __builtin_LINE()) {
  return from_bits64<float>(emu::simd_exchange(emu::SimdOp::sum_f32, to_bits64(x), 0, line));
}
inline double simd_reduce_sum(double x, int line = __builtin_LINE()) {
  return from_bits64<double>(emu::simd_exchange(emu::SimdOp::sum_f64, to_bits64(x), 0, line));
}
inline float simd_reduce_max(float x, int line = __builtin_LINE()) {
  return from_bits64<float>(emu::simd_exchange(emu::SimdOp::max_f32, to_bits64(x), 0, line));
}
inline double simd_reduce_max(double x, int line = __builtin_LINE()) {
  return from_bits64<double>(emu::simd_exchange(emu::SimdOp::max_f64, to_bits64(x), 0, line));
}

}  // namespace kernels
}  // namespace metalsvd

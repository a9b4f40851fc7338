// Element types the core understands; half and bfloat16 are stored as such and computed in fp32.
#pragma once

#include <cstdint>

namespace metalsvd {

enum class ScalarType { f16, bf16, f32, f64 };

inline uint32_t element_size(ScalarType t) {
  switch (t) {
    case ScalarType::f16:
    case ScalarType::bf16:
      return 2;
    case ScalarType::f32:
      return 4;
    case ScalarType::f64:
      return 8;
  }
  return 0;
}

// The type kernels compute in: fp64 stays, every other type computes in fp32.
inline ScalarType compute_type(ScalarType t) {
  return t == ScalarType::f64 ? ScalarType::f64 : ScalarType::f32;
}
inline uint32_t compute_element_size(ScalarType t) { return element_size(compute_type(t)); }

// Short name used in kernel names ("jacobi_small_f32_tg256").
inline const char* kernel_type_name(ScalarType t) {
  switch (t) {
    case ScalarType::f16:
      return "f16";
    case ScalarType::bf16:
      return "bf16";
    case ScalarType::f32:
      return "f32";
    case ScalarType::f64:
      return "f64";
  }
  return "?";
}

// Name as a user knows it ("float32"), for error messages.
inline const char* user_type_name(ScalarType t) {
  switch (t) {
    case ScalarType::f16:
      return "float16";
    case ScalarType::bf16:
      return "bfloat16";
    case ScalarType::f32:
      return "float32";
    case ScalarType::f64:
      return "float64";
  }
  return "?";
}

}  // namespace metalsvd

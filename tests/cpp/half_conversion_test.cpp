// The CPU dialect's binary16 / bfloat16 conversions against exhaustive and known values.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/dialect.h"

namespace metalsvd {
namespace {

using kernels::bfloat16_t;
using kernels::half_t;

TEST(HalfConversion, EveryFiniteHalfRoundTripsExactly) {
  for (uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const half_t h{static_cast<uint16_t>(bits)};
    const float f = kernels::half_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(kernels::half_to_float(kernels::float_to_half(f))));
      continue;
    }
    EXPECT_EQ(kernels::float_to_half(f).bits, bits) << "bits " << bits;
  }
}

TEST(HalfConversion, RoundsToNearestEvenAndSaturatesToInfinity) {
  EXPECT_EQ(kernels::half_to_float(half_t{0x3c00}), 1.0f);
  EXPECT_EQ(kernels::half_to_float(half_t{0x0001}), std::ldexp(1.0f, -24));
  // 1 + 2^-11 is halfway between 1 and the next half: ties go to even (1.0).
  EXPECT_EQ(kernels::float_to_half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);
  EXPECT_EQ(kernels::float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);
  EXPECT_EQ(kernels::float_to_half(65504.0f).bits, 0x7bff);
  EXPECT_EQ(kernels::float_to_half(65520.0f).bits, 0x7c00);
  EXPECT_EQ(kernels::float_to_half(-1e-9f).bits, 0x8000);
}

TEST(Bfloat16Conversion, RoundsToNearestEven) {
  EXPECT_EQ(kernels::bfloat16_to_float(bfloat16_t{0x3f80}), 1.0f);
  EXPECT_EQ(kernels::float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);
  EXPECT_EQ(kernels::float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);
  EXPECT_TRUE(std::isnan(kernels::bfloat16_to_float(kernels::float_to_bfloat16(NAN))));
}

}  // namespace
}  // namespace metalsvd

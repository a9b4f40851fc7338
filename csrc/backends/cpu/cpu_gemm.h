// The cpu backend's GEMM: plain loops, for tests of the algorithms built on it.
#pragma once

#include "backend.h"

namespace metalsvd {

// c = alpha * a * b + beta * c on host memory; `gemm` already passed check_gemm.
void cpu_gemm(const Gemm& gemm);

}  // namespace metalsvd

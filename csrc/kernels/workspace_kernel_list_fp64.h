// The workspace kernels that compute in float64 on float32 data, as an X-macro list for the
// backends that have float64 (cpu and cuda; never Metal, which has no double).
#pragma once

#include "block_jacobi_refine.h"

// X(name, function, params, T, C), as METALSVD_COMPUTE_KERNELS.
#define METALSVD_FP64_ON_F32_KERNELS(X)                                                         \
  X("block_jacobi_refine_partials_f32", block_jacobi_refine_partials, BlockJacobiParams, float, \
    float)                                                                                      \
  X("block_jacobi_refine_sigma_f32", block_jacobi_refine_sigma, BlockJacobiParams, float, float)

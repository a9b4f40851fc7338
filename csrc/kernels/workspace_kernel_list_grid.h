// The workspace kernels whose groups meet at grid barriers (kernels::grid_barrier), as an
// X-macro list for the backends that have them (cpu and cuda; never Metal, dialect.h).
#pragma once

#include "bidiagonal_resident.h"

// X(name, function, params, T, C), as METALSVD_COMPUTE_KERNELS. float32 only: in float64 a
// thread's kBrdResidentSlots values take twice the registers.
#define METALSVD_GRID_BARRIER_KERNELS(X)                                            \
  X("bidiagonal_resident_f32", bidiagonal_resident, BidiagonalParams, float, float) \
  X("bidiagonal_resident_narrow_f32", bidiagonal_resident_narrow, BidiagonalParams, float, float)

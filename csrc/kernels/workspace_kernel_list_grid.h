// The workspace kernels whose groups meet at grid barriers (kernels::grid_barrier), as an
// X-macro list for the backends that have them (cpu and cuda; never Metal, dialect.h).
#pragma once

#include "bidiagonal_panel.h"

// X(name, function, params, T, C), as METALSVD_COMPUTE_KERNELS.
#define METALSVD_GRID_BARRIER_KERNELS(X)                                      \
  X("bidiagonal_panel_f32", bidiagonal_panel, BidiagonalParams, float, float) \
  X("bidiagonal_panel_f64", bidiagonal_panel, BidiagonalParams, double, double)

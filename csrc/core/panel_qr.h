// One Householder panel of a tall matrix: Cholesky QR2 with reconstructed reflectors
// (kernels/cholesky_qr.h) first, a few launches whatever the panel's height, and the tall-skinny
// QR (core/tsqr_panel.h) for the matrices of the batch where that fails (a panel too ill
// conditioned or rank deficient for it), decided on the device.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/tsqr_panel.h"
#include "matrix_batch.h"

namespace metalsvd {

// Elements of a matrix's region the Cholesky QR of a panel of up to `rows` x `width` needs, or 0
// where the device's threadgroup memory is too small for its kernels (the TSQR alone then).
uint32_t cholesky_qr_scratch_elements(const DeviceLimits& limits, ScalarType dtype, uint32_t rows,
                                      uint32_t width);

// Factors `panel` as enqueue_tsqr_panel does (R in its first width rows, on and above the
// diagonal; below it, the panel's entries or scratch), by Cholesky QR2 where `place` has its
// scratch, and by the TSQR alone where not.
void enqueue_panel_qr(Backend& backend, const MatrixBatch& panel, const MatrixBatch& y,
                      const TsqrPanelPlace& place);

}  // namespace metalsvd

// Every workspace kernel (workspace_kernel.h) with its parameter block, as X-macro lists the
// backends expand into their kernel tables. Kernel names end in the storage type name.
#pragma once

#include "band_back_transform.h"
#include "band_bidiagonal.h"
#include "bidiagonal_dc.h"
#include "bidiagonal_reduction.h"
#include "bidiagonal_values.h"
#include "block_jacobi.h"
#include "cholesky_qr.h"
#include "dc_apply.h"
#include "householder.h"
#include "krylov.h"
#include "matrix_transfer.h"
#include "tsqr.h"

// F(function) for each kernel function.
#define METALSVD_WORKSPACE_FUNCTIONS(F) \
  F(matrix_partial_max)                 \
  F(matrix_scale_exponent)              \
  F(matrix_load)                        \
  F(matrix_store)                       \
  F(matrix_set_identity)                \
  F(matrix_status_to_info)              \
  F(block_jacobi_gram)                  \
  F(block_jacobi_pair_eigen)            \
  F(block_jacobi_rotate)                \
  F(block_jacobi_permute)               \
  F(block_jacobi_sweep_end)             \
  F(block_jacobi_norms)                 \
  F(block_jacobi_sort)                  \
  F(block_jacobi_write)                 \
  F(block_jacobi_complete)              \
  F(householder_triangle)               \
  F(tsqr_factor)                        \
  F(tsqr_expand)                        \
  F(tsqr_reconstruct)                   \
  F(tsqr_leaf_y)                        \
  F(cholesky_qr_apply)                  \
  F(cholesky_qr_factor)                 \
  F(cholesky_qr_reconstruct)            \
  F(cholesky_qr_leaf_y)                 \
  F(band_bidiagonal_load)               \
  F(band_bidiagonal_step)               \
  F(band_bidiagonal_diagonals)          \
  F(band_back_transform)                \
  F(bidiagonal_panel_start)             \
  F(bidiagonal_column)                  \
  F(bidiagonal_row)                     \
  F(bidiagonal_tail)                    \
  F(bidiagonal_values)                  \
  F(dc_deflate)                         \
  F(dc_roots)                           \
  F(dc_zhat)                            \
  F(dc_vectors)                         \
  F(dc_apply)                           \
  F(krylov_start)                       \
  F(krylov_orth_check)                  \
  F(krylov_normalize)                   \
  F(krylov_residuals)                   \
  F(krylov_restart)                     \
  F(krylov_copy_columns)

// X(name, function, params, T, C): kernels between the user's storage type T and C.
#define METALSVD_STORAGE_KERNELS(X, TYPE_NAME, T, C)                                 \
  X("matrix_partial_max_" TYPE_NAME, matrix_partial_max, MatrixTransferParams, T, C) \
  X("matrix_load_" TYPE_NAME, matrix_load, MatrixTransferParams, T, C)               \
  X("matrix_store_" TYPE_NAME, matrix_store, MatrixTransferParams, T, C)

// X(name, function, params, C, C): kernels on compute-type workspaces only.
#define METALSVD_COMPUTE_KERNELS(X, TYPE_NAME, C)                                                  \
  X("matrix_scale_exponent_" TYPE_NAME, matrix_scale_exponent, MatrixTransferParams, C, C)         \
  X("matrix_set_identity_" TYPE_NAME, matrix_set_identity, MatrixTransferParams, C, C)             \
  X("matrix_status_to_info_" TYPE_NAME, matrix_status_to_info, MatrixTransferParams, C, C)         \
  X("block_jacobi_gram_" TYPE_NAME, block_jacobi_gram, BlockJacobiParams, C, C)                    \
  X("block_jacobi_pair_eigen_" TYPE_NAME, block_jacobi_pair_eigen, BlockJacobiParams, C, C)        \
  X("block_jacobi_rotate_" TYPE_NAME, block_jacobi_rotate, BlockJacobiParams, C, C)                \
  X("block_jacobi_permute_" TYPE_NAME, block_jacobi_permute, BlockJacobiParams, C, C)              \
  X("block_jacobi_sweep_end_" TYPE_NAME, block_jacobi_sweep_end, BlockJacobiParams, C, C)          \
  X("block_jacobi_norms_" TYPE_NAME, block_jacobi_norms, BlockJacobiParams, C, C)                  \
  X("block_jacobi_sort_" TYPE_NAME, block_jacobi_sort, BlockJacobiParams, C, C)                    \
  X("block_jacobi_write_" TYPE_NAME, block_jacobi_write, BlockJacobiParams, C, C)                  \
  X("block_jacobi_complete_" TYPE_NAME, block_jacobi_complete, BlockJacobiParams, C, C)            \
  X("householder_triangle_" TYPE_NAME, householder_triangle, HouseholderParams, C, C)              \
  X("tsqr_factor_" TYPE_NAME, tsqr_factor, TsqrFactorParams, C, C)                                 \
  X("tsqr_expand_" TYPE_NAME, tsqr_expand, TsqrParams, C, C)                                       \
  X("tsqr_reconstruct_" TYPE_NAME, tsqr_reconstruct, TsqrParams, C, C)                             \
  X("tsqr_leaf_y_" TYPE_NAME, tsqr_leaf_y, TsqrParams, C, C)                                       \
  X("cholesky_qr_apply_" TYPE_NAME, cholesky_qr_apply, CholeskyQrParams, C, C)                     \
  X("cholesky_qr_factor_" TYPE_NAME, cholesky_qr_factor, CholeskyQrParams, C, C)                   \
  X("cholesky_qr_reconstruct_" TYPE_NAME, cholesky_qr_reconstruct, CholeskyQrParams, C, C)         \
  X("cholesky_qr_leaf_y_" TYPE_NAME, cholesky_qr_leaf_y, CholeskyQrParams, C, C)                   \
  X("band_bidiagonal_load_" TYPE_NAME, band_bidiagonal_load, BandBidiagonalParams, C, C)           \
  X("band_bidiagonal_step_" TYPE_NAME, band_bidiagonal_step, BandBidiagonalParams, C, C)           \
  X("band_bidiagonal_diagonals_" TYPE_NAME, band_bidiagonal_diagonals, BandBidiagonalParams, C, C) \
  X("band_back_transform_" TYPE_NAME, band_back_transform, BandBackTransformParams, C, C)          \
  X("bidiagonal_panel_start_" TYPE_NAME, bidiagonal_panel_start, BidiagonalParams, C, C)           \
  X("bidiagonal_column_" TYPE_NAME, bidiagonal_column, BidiagonalParams, C, C)                     \
  X("bidiagonal_row_" TYPE_NAME, bidiagonal_row, BidiagonalParams, C, C)                           \
  X("bidiagonal_tail_" TYPE_NAME, bidiagonal_tail, BidiagonalParams, C, C)                         \
  X("bidiagonal_values_" TYPE_NAME, bidiagonal_values, BidiagonalValuesParams, C, C)               \
  X("dc_deflate_" TYPE_NAME, dc_deflate, DcParams, C, C)                                           \
  X("dc_roots_" TYPE_NAME, dc_roots, DcParams, C, C)                                               \
  X("dc_zhat_" TYPE_NAME, dc_zhat, DcParams, C, C)                                                 \
  X("dc_vectors_" TYPE_NAME, dc_vectors, DcParams, C, C)                                           \
  X("dc_apply_" TYPE_NAME, dc_apply, DcParams, C, C)                                               \
  X("krylov_start_" TYPE_NAME, krylov_start, KrylovParams, C, C)                                   \
  X("krylov_orth_check_" TYPE_NAME, krylov_orth_check, KrylovParams, C, C)                         \
  X("krylov_normalize_" TYPE_NAME, krylov_normalize, KrylovParams, C, C)                           \
  X("krylov_residuals_" TYPE_NAME, krylov_residuals, KrylovParams, C, C)                           \
  X("krylov_restart_" TYPE_NAME, krylov_restart, KrylovParams, C, C)                               \
  X("krylov_copy_columns_" TYPE_NAME, krylov_copy_columns, KrylovParams, C, C)

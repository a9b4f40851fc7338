// Vector kernels of the Golub-Kahan-Lanczos bidiagonalisation (core/lanczos_svd.cpp): the
// Gram-Schmidt passes are GEMMs; these kernels do what lies between them, one group per
// matrix (the copy kernel: several), and decide breakdown and convergence on the device.
//   krylov_start         resets the per-matrix Lanczos state
//   krylov_orth_check    after the first Gram-Schmidt pass: breakdown -> a random vector
//   krylov_normalize     after the second pass: the coefficients into B, the unit vector out
//   krylov_residuals     Ritz residuals from the SVD of B; convergence per matrix
//   krylov_restart       B <- diag(sigma of the kept Ritz values), unless converged before
//   krylov_copy_columns  dst <- src (the kept Ritz vectors), unless converged before
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "svd_status.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// Per-matrix int32 entries of the Lanczos state (kStateExponent is shared with the loads).
enum KrylovState : uint32_t {
  kKrylovFrozen = 4,        // converged in an earlier cycle: the kept vectors stay as they are
  kKrylovConvergedNow = 5,  // converged in this cycle (frozen from the next one on)
  kKrylovBreakdown = 6,     // the vector being orthogonalised was replaced by a random one
  kKrylovStateStride = 8,
};

struct KrylovParams {
  int64_t vec_batch_stride;    // io: the working vector (or the matrix being copied into)
  int64_t coef_batch_stride;   // w0: Gram-Schmidt coefficients (pass 1 at 0, pass 2 at coef_ld)
  int64_t basis_batch_stride;  // w1: U or V (column-major, ld basis_ld), or the random vectors
  int64_t small_batch_stride;  // w2: B (w x w, ld small_ld) or the betas
  uint32_t batch;
  uint32_t length;     // rows of the vectors
  uint32_t count;      // coefficients of this step (= basis columns orthogonalised against)
  uint32_t coef_ld;    // offset of pass 2's coefficients in w0
  uint32_t basis_ld;   // leading dimension of w1 (and of io for the copy)
  uint32_t column;     // basis column written (normalize) or read (orth_check: random column)
  uint32_t small_ld;   // leading dimension of B
  int32_t b_column;    // normalize: B's column receiving the coefficients, -1: none
  int32_t beta_index;  // normalize: index into w2 receiving the norm, -1: none
  uint32_t kept;       // restart/residuals: Ritz vectors kept; residuals: the k wanted
  uint32_t wanted;
  uint32_t work;  // w: columns of U (and of B)
  uint32_t cols;  // copy: columns
  uint32_t groups_per_matrix;
  uint32_t threads;
  float tolerance;  // residuals: converged when residual <= tolerance * sigma_max
};

// Norm of the group's strided vector without overflow or underflow: max |x| first, then the
// sum of squares of x / max (LAPACK xNRM2's idea, in two reductions).
template <typename C>
MSVD_INLINE C group_norm(MSVD_DEVICE const C* x, uint32_t length, MSVD_THREADGROUP C* scratch,
                         ThreadContext ctx, uint32_t threads) {
  C local_max = C(0);
  for (uint32_t r = ctx.thread_index; r < length; r += threads)
    local_max = math_max(local_max, math_abs(x[r]));
  const C max_abs = group_reduce_max(local_max, scratch, ctx, threads);
  if (!(max_abs > C(0)) || !math_isfinite(max_abs)) return max_abs;
  const C inv = C(1) / max_abs;
  C sum = C(0);
  for (uint32_t r = ctx.thread_index; r < length; r += threads) {
    const C y = x[r] * inv;
    sum += y * y;
  }
  return max_abs * math_sqrt(group_reduce_sum(sum, scratch, ctx, threads));
}

// Rounding leaves about length * eps of a vector that lies in the span it is orthogonalised
// against; a remainder below that is no new direction (an invariant subspace was found).
template <typename C>
MSVD_INLINE C krylov_breakdown_ratio(uint32_t length) {
  return C(length) * NumericLimits<C>::epsilon();
}

template <typename P, typename T, typename C>
MSVD_INLINE void krylov_start(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                              MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                              MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  if (ctx.thread_index != 0) return;
  MSVD_DEVICE int32_t* s = state + ctx.group * kKrylovStateStride;
  // p.count != 0: the input was not loaded (scaled), so nothing set the exponent.
  if (p.count != 0u) s[kStateExponent] = 0;
  for (uint32_t i = kKrylovFrozen; i < kKrylovStateStride; ++i) s[i] = 0;
}

// io: the vector after one pass; w0: the pass's coefficients (count); w1: random vectors, column
// `column` the replacement. Decides breakdown: the remainder is negligible against the vector
// before the pass (its norm^2 is the coefficients' plus the remainder's).
template <typename P, typename T, typename C>
MSVD_INLINE void krylov_orth_check(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                   ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  MSVD_DEVICE C* x = io + static_cast<int64_t>(matrix) * p.vec_batch_stride;
  MSVD_DEVICE const C* h = w0 + static_cast<int64_t>(matrix) * p.coef_batch_stride;
  MSVD_DEVICE const C* random = w1 + static_cast<int64_t>(matrix) * p.basis_batch_stride +
                                static_cast<int64_t>(p.column) * p.basis_ld;
  const C rest = group_norm(x, p.length, scratch, ctx, p.threads);
  const C projected = group_norm(h, p.count, scratch, ctx, p.threads);
  const C before = math_sqrt(rest * rest + projected * projected);
  const bool breakdown = !(rest > krylov_breakdown_ratio<C>(p.length) * before);
  if (breakdown)
    for (uint32_t r = ctx.thread_index; r < p.length; r += p.threads) x[r] = random[r];
  if (ctx.thread_index == 0) state[matrix * kKrylovStateStride + kKrylovBreakdown] = breakdown;
}

// io: the vector after both passes; w0: both passes' coefficients; w1: the basis, whose column
// `column` receives the normalised vector; w2: B (b_column >= 0) or the betas (beta_index >= 0).
// Without breakdown, A x = (sum of the coefficients) against the basis + norm * new vector, so
// B's column gets exactly that; after a breakdown the first pass's coefficients alone
// represent A x and the random vector's norm is no entry of B.
template <typename P, typename T, typename C>
MSVD_INLINE void krylov_normalize(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                  MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t* state,
                                  MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                  ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  MSVD_DEVICE const C* x = io + static_cast<int64_t>(matrix) * p.vec_batch_stride;
  MSVD_DEVICE const C* h = w0 + static_cast<int64_t>(matrix) * p.coef_batch_stride;
  MSVD_DEVICE C* out = w1 + static_cast<int64_t>(matrix) * p.basis_batch_stride +
                       static_cast<int64_t>(p.column) * p.basis_ld;
  MSVD_DEVICE C* small = w2 + static_cast<int64_t>(matrix) * p.small_batch_stride;
  const bool breakdown = state[matrix * kKrylovStateStride + kKrylovBreakdown] != 0;
  const C norm = group_norm(x, p.length, scratch, ctx, p.threads);
  const C inv = norm > C(0) ? C(1) / norm : C(0);
  for (uint32_t r = ctx.thread_index; r < p.length; r += p.threads) out[r] = x[r] * inv;
  if (p.b_column >= 0) {
    MSVD_DEVICE C* b = small + static_cast<int64_t>(p.b_column) * p.small_ld;
    for (uint32_t i = ctx.thread_index; i < p.count; i += p.threads)
      b[i] = breakdown ? h[i] : h[i] + h[p.coef_ld + i];
    if (ctx.thread_index == 0) b[p.count] = breakdown ? C(0) : norm;
  }
  if (p.beta_index >= 0 && ctx.thread_index == 0) small[p.beta_index] = breakdown ? C(0) : norm;
}

// io: P, the left singular vectors of B (work x work, ld small_ld); w0: sigma (work); w1: the
// betas (the last one couples B to the next basis vector); w2: residuals out (wanted).
// The Ritz triplet i has residual |beta_last * P[work - 1, i]| (A V = U B holds exactly and
// A^T U = V B^T + beta_last v_next e_last^T). info: 0 converged, 1 not yet, 2 not finite.
template <typename P, typename T, typename C>
MSVD_INLINE void krylov_residuals(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                  MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t* state,
                                  MSVD_DEVICE int32_t* info, MSVD_THREADGROUP C* scratch,
                                  ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  MSVD_DEVICE int32_t* s = state + matrix * kKrylovStateStride;
  // Every thread reads the flags before thread 0 may change them.
  const bool frozen = s[kKrylovFrozen] != 0 || s[kKrylovConvergedNow] != 0;
  group_barrier_with_device_memory();
  if (frozen) {
    if (ctx.thread_index == 0) s[kKrylovFrozen] = 1;
    return;
  }
  MSVD_DEVICE const C* ritz = io + static_cast<int64_t>(matrix) * p.vec_batch_stride;
  MSVD_DEVICE const C* sigma = w0 + static_cast<int64_t>(matrix) * p.coef_batch_stride;
  MSVD_DEVICE const C* betas = w1 + static_cast<int64_t>(matrix) * p.basis_batch_stride;
  MSVD_DEVICE C* residuals = w2 + static_cast<int64_t>(matrix) * p.small_batch_stride;
  const C beta = betas[p.work - 1];
  C worst = C(0);
  for (uint32_t i = ctx.thread_index; i < p.wanted; i += p.threads) {
    const C r = math_abs(beta * ritz[i * p.small_ld + p.work - 1]);
    residuals[i] = r;
    worst = math_isfinite(r) ? math_max(worst, r) : NumericLimits<C>::infinity();
  }
  worst = group_reduce_max(worst, scratch, ctx, p.threads);
  if (ctx.thread_index != 0) return;
  const C sigma_max = sigma[0];
  const bool finite = math_isfinite(worst) && math_isfinite(sigma_max);
  const bool converged = finite && worst <= C(p.tolerance) * sigma_max;
  s[kKrylovConvergedNow] = converged || !finite;
  info[matrix] = !finite ? kSvdNonFiniteInput : converged ? kSvdConverged : kSvdNotConverged;
}

// io: B (work x work, ld small_ld) <- diag(sigma[0:kept]); w0: sigma; w1: the kept sigma
// (the answer's S). Nothing for matrices that converged in an earlier cycle.
template <typename P, typename T, typename C>
MSVD_INLINE void krylov_restart(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                                MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  if (state[matrix * kKrylovStateStride + kKrylovFrozen] != 0) return;
  MSVD_DEVICE C* b = io + static_cast<int64_t>(matrix) * p.vec_batch_stride;
  MSVD_DEVICE const C* sigma = w0 + static_cast<int64_t>(matrix) * p.coef_batch_stride;
  MSVD_DEVICE C* kept_sigma = w1 + static_cast<int64_t>(matrix) * p.basis_batch_stride;
  for (uint32_t idx = ctx.thread_index; idx < p.work * p.work; idx += p.threads) {
    const uint32_t r = idx % p.work;
    const uint32_t c = idx / p.work;
    b[c * p.small_ld + r] = r == c && c < p.kept ? sigma[c] : C(0);
  }
  for (uint32_t i = ctx.thread_index; i < p.kept; i += p.threads) kept_sigma[i] = sigma[i];
}

// io (ld basis_ld) <- w0 (ld small_ld), length x cols, for matrices not frozen.
template <typename P, typename T, typename C>
MSVD_INLINE void krylov_copy_columns(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                     MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                                     MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  if (state[matrix * kKrylovStateStride + kKrylovFrozen] != 0) return;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  MSVD_DEVICE C* dst = io + static_cast<int64_t>(matrix) * p.vec_batch_stride;
  MSVD_DEVICE const C* src = w0 + static_cast<int64_t>(matrix) * p.coef_batch_stride;
  for (uint32_t idx = range.first; idx < p.length * p.cols; idx += range.step) {
    const uint32_t r = idx % p.length;
    const uint32_t c = idx / p.length;
    dst[c * p.basis_ld + r] = src[c * p.small_ld + r];
  }
}

}  // namespace kernels
}  // namespace metalsvd

// The SVD of an upper bidiagonal matrix by divide and conquer (Gu and Eisenstat; LAPACK's
// xBDSDC / xLASD1-xLASD4), one level of the tree (dc_tree.h) at a time, every node of the level
// at once. A node's merge joins the SVDs of its two children (rows of B above and below its
// middle row k) through that row: in the children's bases the node becomes the upper arrow
//   M = [z; 0 diag(d_1 .. d_{N-1})],   d: the children's singular values,
//   z = alpha * (last row of W_left), beta * (first row of W_right),
// alpha = B[k, k], beta = B[k, k + 1] (the children's null columns, merged by a rotation, give
// z_0). Its SVD comes from the secular equation (dc_secular.h); the node's vectors are then the
// children's times the arrow's, a product dc_apply.h or the backend's GEMM forms.
//   dc_deflate   one group per node: z and the merged d in ascending order, then (one thread)
//                LAPACK's deflation: a z entry below tol, or two d closer than tol (a rotation
//                moves one z into the other), take a value out of the secular equation
//   dc_roots     one SIMD group per root
//   dc_zhat      one SIMD group per value: z recomputed from the roots (Loewner, as xLASD3),
//                which makes the computed vectors numerically orthogonal, and the value's rank
//   dc_vectors   one SIMD group per value: its columns of the merge matrices Q_U and Q_W in
//                the children's row order (the deflation rotations applied last), sigma, and
//                the middle row of the node's U
// Each merge is scaled by a power of two (its largest entry into [0.5, 1)).
#pragma once

#include "dc_params.h"
#include "dc_secular.h"
#include "dc_tree.h"
#include "dialect.h"
#include "group_reduce.h"
#include "svd_status.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// Product over the lanes of a SIMD group, every lane getting it.
template <typename C>
MSVD_INLINE C simd_reduce_product(C x) {
  for (uint32_t offset = kSimdWidth / 2; offset > 0; offset >>= 1) x *= shuffle_xor(x, offset);
  return x;
}

// Index of the first entry of the descending list[0, count) below x (`or_equal`: at most x).
template <typename C>
MSVD_INLINE uint32_t dc_first_below(MSVD_DEVICE const C* list, uint32_t count, C x, bool or_equal) {
  uint32_t lo = 0;
  uint32_t hi = count;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    const bool below = or_equal ? list[mid] <= x : list[mid] < x;
    if (below)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// The node a launch's group works on, and where its merge reads and writes.
struct DcMerge {
  DcNode node;
  uint32_t nl, nr, k;  // children's rows and the middle row
};
MSVD_INLINE DcMerge dc_merge(DcNode node) {
  DcMerge m;
  m.node = node;
  m.nl = dc_left_rows(node.rows);
  m.nr = dc_right_rows(node.rows);
  m.k = node.r0 + m.nl;
  return m;
}

// Groups: batch x nodes; any multiple of 32 threads.
template <typename P, typename T, typename C>
MSVD_INLINE void dc_deflate(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                            MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                            MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.nodes;
  const DcMerge g = dc_merge(dc_node_at(p.n, p.level, ctx.group % p.nodes));
  if (g.node.rows == 0) return;
  const uint32_t n = p.n;
  const uint32_t r0 = g.node.r0;
  const uint32_t rows = g.node.rows;
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE const T* d = io + static_cast<int64_t>(matrix) * p.de_stride;
  MSVD_DEVICE const T* e = d + p.e_offset;
  MSVD_DEVICE const C* sigma = dc_real(p, w0, matrix, kDcSigma0 + (p.parity ^ 1u));
  MSVD_DEVICE const C* w_prev = dc_matrix(p, w1, matrix, kDcW0 + (p.parity ^ 1u));
  MSVD_DEVICE C* sorted_d = dc_real(p, w0, matrix, kDcSortedD) + r0;
  MSVD_DEVICE C* sorted_z = dc_real(p, w0, matrix, kDcSortedZ) + r0;
  MSVD_DEVICE int32_t* source = dc_int(p, w2, matrix, kDcSourceRow) + r0;

  const C alpha = to_compute<C>(d[g.k]);
  const C beta = g.k + 1 < r0 + dc_columns(g.node) ? to_compute<C>(e[g.k]) : C(0);
  MSVD_DEVICE const C* left_sigma = sigma + r0;
  MSVD_DEVICE const C* right_sigma = sigma + g.k + 1;
  // Children's singular values are descending: their first is their largest.
  C largest = math_max(math_abs(alpha), math_abs(beta));
  if (g.nl > 0) largest = math_max(largest, left_sigma[0]);
  if (g.nr > 0) largest = math_max(largest, right_sigma[0]);
  const C scale = math_ldexp(C(1), largest > C(0) ? -math_exponent(largest) : 0);
  // LAPACK's deflation tolerance, 8 unit roundoffs of the merge's largest entry.
  const C tol = C(4) * NumericLimits<C>::epsilon() * largest * scale;
  const C alpha_s = alpha * scale;
  const C beta_s = beta * scale;

  // Ascending merge of the two descending lists; ties: left before right. Position 0 is the
  // new column, with d = 0.
  for (uint32_t t = tid; t < g.nl; t += p.threads) {
    const C v = left_sigma[t];
    const uint32_t pos = 1 + (g.nl - 1 - t) + (g.nr - dc_first_below(right_sigma, g.nr, v, false));
    sorted_d[pos] = v * scale;
    sorted_z[pos] = alpha_s * w_prev[static_cast<int64_t>(r0 + t) * n + g.k];
    source[pos] = static_cast<int32_t>(t);
  }
  for (uint32_t t = tid; t < g.nr; t += p.threads) {
    const C v = right_sigma[t];
    const uint32_t pos = 1 + (g.nr - 1 - t) + (g.nl - dc_first_below(left_sigma, g.nl, v, true));
    sorted_d[pos] = v * scale;
    sorted_z[pos] = beta_s * w_prev[static_cast<int64_t>(g.k + 1 + t) * n + g.k + 1];
    source[pos] = static_cast<int32_t>(g.nl + 1 + t);
  }
  if (tid == 0) {
    // The children's null columns (the last of each W; an empty child's W is [1]) meet the
    // middle row in alpha and beta: one rotation leaves one column holding both (z_0) and the
    // other zero, the node's own null column when it has one.
    const C z0a = alpha_s * (g.nl > 0 ? w_prev[static_cast<int64_t>(g.k) * n + g.k] : C(1));
    C c = C(1);
    C s = C(0);
    C z0 = math_abs(z0a) > tol ? z0a : tol;  // xLASD2 keeps z_0 away from zero
    if (g.node.sq != 0u) {
      const uint32_t last = g.k + 1 + g.nr;
      const C z0b = beta_s * (g.nr > 0 ? w_prev[static_cast<int64_t>(last) * n + g.k + 1] : C(1));
      const C r = math_sqrt(z0a * z0a + z0b * z0b);
      z0 = tol;
      if (r > tol) {
        z0 = r;
        c = z0a / r;
        s = z0b / r;
      }
    }
    sorted_d[0] = C(0);
    sorted_z[0] = z0;
    source[0] = static_cast<int32_t>(g.nl);
    dc_real(p, w0, matrix, kDcNodeC)[r0] = c;
    dc_real(p, w0, matrix, kDcNodeS)[r0] = s;
    dc_real(p, w0, matrix, kDcNodeScale)[r0] = scale;
  }
  group_barrier_with_device_memory();
  if (tid != 0) return;

  // Deflation, in order (each step depends on the last). A rotation of two positions whose d
  // are within tol is applied to both bases, so it leaves the 2 x 2 diagonal block
  // G^T diag(d_p, d_q) G: its diagonal is kept exactly (xLASD2 keeps d_p, an error up to tol in
  // the deflated value) and only its small off-diagonal is dropped.
  MSVD_DEVICE int32_t* deflated = dc_int(p, w2, matrix, kDcRootOrigin) + r0;  // scratch here
  MSVD_DEVICE C* rot_c = dc_real(p, w0, matrix, kDcRotationC) + r0;
  MSVD_DEVICE C* rot_s = dc_real(p, w0, matrix, kDcRotationS) + r0;
  MSVD_DEVICE int32_t* rot_p = dc_int(p, w2, matrix, kDcRotationP) + r0;
  MSVD_DEVICE int32_t* rot_q = dc_int(p, w2, matrix, kDcRotationQ) + r0;
  uint32_t rotations = 0;
  uint32_t previous = 0;
  bool have_previous = false;
  deflated[0] = 0;
  for (uint32_t pos = 1; pos < rows; ++pos) {
    const C z = sorted_z[pos];
    if (math_abs(z) <= tol) {
      deflated[pos] = 1;
      continue;
    }
    deflated[pos] = 0;
    if (have_previous && sorted_d[pos] - sorted_d[previous] <= tol) {
      const C zp = sorted_z[previous];
      const C tau = math_sqrt(z * z + zp * zp);
      const C c = z / tau;
      const C s = -zp / tau;
      sorted_z[pos] = tau;
      sorted_z[previous] = C(0);
      const C dp = sorted_d[previous];
      const C dq = sorted_d[pos];
      sorted_d[previous] = c * c * dp + s * s * dq;
      sorted_d[pos] = s * s * dp + c * c * dq;
      rot_p[rotations] = static_cast<int32_t>(previous);
      rot_q[rotations] = static_cast<int32_t>(pos);
      rot_c[rotations] = c;
      rot_s[rotations] = s;
      ++rotations;
      deflated[previous] = 1;
    }
    previous = pos;
    have_previous = true;
  }
  MSVD_DEVICE int32_t* order = dc_int(p, w2, matrix, kDcOrder) + r0;
  MSVD_DEVICE C* kept_d = dc_real(p, w0, matrix, kDcKeptD) + r0;
  MSVD_DEVICE C* kept_z = dc_real(p, w0, matrix, kDcKeptZ) + r0;
  uint32_t kept = 0;
  for (uint32_t pos = 0; pos < rows; ++pos) {
    if (deflated[pos] != 0) continue;
    order[kept] = static_cast<int32_t>(pos);
    kept_d[kept] = sorted_d[pos];
    kept_z[kept] = sorted_z[pos];
    ++kept;
  }
  uint32_t next = kept;
  for (uint32_t pos = 0; pos < rows; ++pos)
    if (deflated[pos] != 0) order[next++] = static_cast<int32_t>(pos);
  // xLASD2: the smallest kept d at least tol / 2 from the 0 of position 0.
  if (kept > 1 && kept_d[1] <= tol / C(2)) kept_d[1] = tol / C(2);
  dc_int(p, w2, matrix, kDcNodeKept)[r0] = static_cast<int32_t>(kept);
  dc_int(p, w2, matrix, kDcNodeRotations)[r0] = static_cast<int32_t>(rotations);
}

// Where a SIMD group of the per-value kernels works: the node owning column `col` of B and the
// value's index there (valid: col < n, and the node has the value).
struct DcValue {
  DcMerge merge;
  uint32_t index;
  uint32_t kept;
  bool valid;
};
// `with_null`: the null column of a node one column wider (index rows) counts too.
template <typename C>
MSVD_INLINE DcValue dc_value(MSVD_CONSTANT const DcParams& p, MSVD_DEVICE C* w2, uint32_t matrix,
                             uint32_t col, bool with_null) {
  DcValue v;
  v.valid = col < p.n;
  const DcNode node = dc_node_of_column(p.n, p.level, v.valid ? col : 0u).node;
  v.merge = dc_merge(node);
  v.index = col - node.r0;
  v.valid = v.valid && node.rows > 0 && (v.index < node.rows || with_null);
  v.kept = v.valid ? static_cast<uint32_t>(dc_int(p, w2, matrix, kDcNodeKept)[node.r0]) : 0u;
  return v;
}

MSVD_INLINE uint32_t dc_column_of(MSVD_CONSTANT const DcParams& p, ThreadContext ctx) {
  return (ctx.group % p.groups_per_matrix) * (p.threads / kSimdWidth) + ctx.simd_group;
}

// Groups: batch x groups_per_matrix, one SIMD group per column of B.
template <typename P, typename T, typename C>
MSVD_INLINE void dc_roots(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                          MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t* state,
                          MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const DcValue v = dc_value(p, w2, matrix, dc_column_of(p, ctx), false);
  if (!v.valid || v.index >= v.kept) return;
  const uint32_t r0 = v.merge.node.r0;
  MSVD_DEVICE const C* kept_d = dc_real(p, w0, matrix, kDcKeptD) + r0;
  MSVD_DEVICE const C* kept_z = dc_real(p, w0, matrix, kDcKeptZ) + r0;
  SecularRoot<C> root;
  if (v.kept == 1) {
    root.origin = 0;
    root.mu = kept_z[0] * kept_z[0];
    root.sigma = math_abs(kept_z[0]);
    root.converged = true;
  } else {
    root = dc_secular_root(kept_d, kept_z, v.kept, v.index, ctx);
  }
  if (ctx.lane != 0) return;
  dc_int(p, w2, matrix, kDcRootOrigin)[r0 + v.index] = static_cast<int32_t>(root.origin);
  dc_real(p, w0, matrix, kDcRootMu)[r0 + v.index] = root.mu;
  dc_real(p, w0, matrix, kDcRootSigma)[r0 + v.index] = root.sigma;
  // Every writer writes the same value, and only over "converged".
  MSVD_DEVICE int32_t* status = state + matrix * p.state_stride + kStateStatus;
  if (!root.converged && *status == kSvdConverged) *status = kSvdNotConverged;
}

// d_i^2 - sigma_j^2 for kept entry i and root j, from the root's origin.
template <typename C>
MSVD_INLINE C dc_root_difference(MSVD_DEVICE const C* kept_d, MSVD_DEVICE const int32_t* origin,
                                 MSVD_DEVICE const C* mu, uint32_t i, uint32_t j) {
  return dc_square_difference(kept_d[i], kept_d[origin[j]]) - mu[j];
}

// The value of index `index` of a merge: a root, or a deflated d.
template <typename C>
MSVD_INLINE C dc_value_of(MSVD_DEVICE const C* root_sigma, MSVD_DEVICE const C* sorted_d,
                          MSVD_DEVICE const int32_t* order, uint32_t kept, uint32_t index) {
  return index < kept ? root_sigma[index] : sorted_d[order[index]];
}

// Groups: batch x groups_per_matrix, one SIMD group per column of B.
template <typename P, typename T, typename C>
MSVD_INLINE void dc_zhat(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                         MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                         MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const DcValue v = dc_value(p, w2, matrix, dc_column_of(p, ctx), false);
  if (!v.valid) return;
  const uint32_t r0 = v.merge.node.r0;
  const uint32_t rows = v.merge.node.rows;
  const uint32_t i = v.index;
  MSVD_DEVICE const C* kept_d = dc_real(p, w0, matrix, kDcKeptD) + r0;
  MSVD_DEVICE const C* kept_z = dc_real(p, w0, matrix, kDcKeptZ) + r0;
  MSVD_DEVICE const C* mu = dc_real(p, w0, matrix, kDcRootMu) + r0;
  MSVD_DEVICE const C* root_sigma = dc_real(p, w0, matrix, kDcRootSigma) + r0;
  MSVD_DEVICE const C* sorted_d = dc_real(p, w0, matrix, kDcSortedD) + r0;
  MSVD_DEVICE const int32_t* origin = dc_int(p, w2, matrix, kDcRootOrigin) + r0;
  MSVD_DEVICE const int32_t* order = dc_int(p, w2, matrix, kDcOrder) + r0;
  if (i < v.kept) {
    // z_i^2 = (sigma_{K-1}^2 - d_i^2) prod_{j<i} (sigma_j^2 - d_i^2) / (d_j^2 - d_i^2)
    //                                 prod_{j>=i, j<K-1} (sigma_j^2 - d_i^2) / (d_{j+1}^2 - d_i^2):
    // by interlacing every ratio lies in (0, 1], so no partial product overflows.
    const uint32_t last = v.kept - 1;
    C product = C(1);
    for (uint32_t j = ctx.lane; j < last; j += kSimdWidth) {
      const uint32_t pole = j < i ? j : j + 1;
      product *= dc_root_difference(kept_d, origin, mu, i, j) /
                 dc_square_difference(kept_d[i], kept_d[pole]);
    }
    product = simd_reduce_product(product);
    const C z2 = math_abs(product * dc_root_difference(kept_d, origin, mu, i, last));
    const C z = v.kept == 1 ? kept_z[0] : math_sqrt(z2);
    if (ctx.lane == 0)
      dc_real(p, w0, matrix, kDcZhat)[r0 + i] = kept_z[i] < C(0) ? -math_abs(z) : math_abs(z);
  }
  // Rank among the node's values, descending; ties by index.
  const C value = dc_value_of(root_sigma, sorted_d, order, v.kept, i);
  uint32_t rank = 0;
  for (uint32_t b = ctx.lane; b < rows; b += kSimdWidth) {
    const C other = dc_value_of(root_sigma, sorted_d, order, v.kept, b);
    if (other > value || (other == value && b < i)) ++rank;
  }
  rank = lane_group_sum(rank, kSimdWidth);
  if (ctx.lane == 0) dc_int(p, w2, matrix, kDcRank)[r0 + i] = static_cast<int32_t>(rank);
}

// Groups: batch x groups_per_matrix, one SIMD group per column of B: for the value of that
// column's node (or the node's null column, index rows), column rank of Q_U (rows x rows) and
// Q_W ((rows + sq) x (rows + sq)), in the children's row order: U rows 0..nl-1 the left child's
// columns, nl the middle row, then the right child's; W rows 0..nl the left child's columns
// (nl: its null column), then the right child's.
template <typename P, typename T, typename C>
MSVD_INLINE void dc_vectors(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                            MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                            MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const DcValue v = dc_value(p, w2, matrix, dc_column_of(p, ctx), true);
  const uint32_t n = p.n;
  const uint32_t r0 = v.merge.node.r0;
  const uint32_t rows = v.merge.node.rows;
  const uint32_t nl = v.merge.nl;
  const uint32_t w_right_null = nl + 1 + v.merge.nr;  // row of the right child's null column
  const bool null_column = v.valid && v.index == rows;
  const bool value_column = v.valid && v.index < rows;
  const C c = v.valid ? dc_real(p, w0, matrix, kDcNodeC)[r0] : C(0);
  const C s = v.valid ? dc_real(p, w0, matrix, kDcNodeS)[r0] : C(0);
  MSVD_DEVICE const int32_t* source = dc_int(p, w2, matrix, kDcSourceRow) + r0;
  MSVD_DEVICE const int32_t* order = dc_int(p, w2, matrix, kDcOrder) + r0;
  const uint32_t col =
      value_column ? static_cast<uint32_t>(dc_int(p, w2, matrix, kDcRank)[r0 + v.index]) : rows;
  MSVD_DEVICE C* qu = dc_matrix(p, w1, matrix, kDcQU) + static_cast<int64_t>(r0 + col) * n + r0;
  MSVD_DEVICE C* qw = dc_matrix(p, w1, matrix, kDcQW) + static_cast<int64_t>(r0 + col) * n + r0;

  if (null_column) {
    for (uint32_t row = ctx.lane; row <= rows; row += kSimdWidth)
      qw[row] = row == nl ? -s : (row == w_right_null ? c : C(0));
  }
  if (value_column) {
    const uint32_t kept = v.kept;
    const C scale = dc_real(p, w0, matrix, kDcNodeScale)[r0];
    MSVD_DEVICE const C* kept_d = dc_real(p, w0, matrix, kDcKeptD) + r0;
    MSVD_DEVICE const C* sorted_d = dc_real(p, w0, matrix, kDcSortedD) + r0;
    MSVD_DEVICE const C* zhat = dc_real(p, w0, matrix, kDcZhat) + r0;
    MSVD_DEVICE const C* mu = dc_real(p, w0, matrix, kDcRootMu) + r0;
    MSVD_DEVICE const int32_t* origin = dc_int(p, w2, matrix, kDcRootOrigin) + r0;
    const bool root = v.index < kept;
    // Left vector x: x_0 = -1, x_i = d_i y_i; right vector y_i = zhat_i / (d_i^2 - sigma^2);
    // both normalised, scaled by their largest entry first so no square overflows. A single
    // kept value (K = 1: M = [z_0]) has y = 1 and x = sign(z_0).
    C x_scale = C(1);
    C y_scale = C(1);
    C x_norm = C(1);
    C y_norm = C(1);
    if (root && kept > 1) {
      C x_max = C(1);
      C y_max = C(0);
      for (uint32_t i = ctx.lane; i < kept; i += kSimdWidth) {
        const C y = zhat[i] / dc_root_difference(kept_d, origin, mu, i, v.index);
        y_max = math_max(y_max, math_abs(y));
        if (i > 0) x_max = math_max(x_max, math_abs(kept_d[i] * y));
      }
      x_scale = C(1) / simd_reduce_max(x_max);
      y_scale = C(1) / simd_reduce_max(y_max);
      C x2 = C(0);
      C y2 = C(0);
      for (uint32_t i = ctx.lane; i < kept; i += kSimdWidth) {
        const C y = zhat[i] / dc_root_difference(kept_d, origin, mu, i, v.index) * y_scale;
        const C x = i == 0 ? -x_scale : kept_d[i] * y / y_scale * x_scale;
        x2 += x * x;
        y2 += y * y;
      }
      x_norm = math_sqrt(simd_reduce_sum(x2));
      y_norm = math_sqrt(simd_reduce_sum(y2));
    }
    const uint32_t mine = root ? 0u : static_cast<uint32_t>(order[v.index]);
    C middle = C(0);  // U's middle row (position 0) in this column
    for (uint32_t i = ctx.lane; i < rows; i += kSimdWidth) {
      const uint32_t pos = static_cast<uint32_t>(order[i]);
      C x = C(0);
      C y = C(0);
      if (root && i < kept) {
        if (kept == 1) {
          x = dc_real(p, w0, matrix, kDcKeptZ)[r0] < C(0) ? C(-1) : C(1);
          y = C(1);
        } else {
          y = zhat[i] / dc_root_difference(kept_d, origin, mu, i, v.index) * y_scale;
          x = (i == 0 ? -x_scale : kept_d[i] * y / y_scale * x_scale) / x_norm;
          y /= y_norm;
        }
      } else if (!root && pos == mine) {
        x = C(1);
        y = C(1);
      }
      qu[source[pos]] = x;
      if (pos == 0) {
        middle = x;
        qw[nl] = c * y;
        if (v.merge.node.sq != 0u) qw[w_right_null] = s * y;
      } else {
        qw[source[pos]] = y;
      }
    }
    middle = simd_reduce_sum(middle);  // one lane holds it, the others 0
    if (ctx.lane == 0) {
      const C value = root ? dc_real(p, w0, matrix, kDcRootSigma)[r0 + v.index] : sorted_d[mine];
      dc_real(p, w0, matrix, kDcSigma0 + p.parity)[r0 + col] = value / scale;
      dc_matrix(p, w1, matrix, kDcU0 + p.parity)[static_cast<int64_t>(r0 + col) * n + v.merge.k] =
          middle;
    }
  }
  group_barrier_with_device_memory();
  // The deflation rotations G_1 .. G_t act on the children's bases, so the merge's vectors are
  // G_1 ... G_t applied to the arrow's: the last rotation first. Lane 0 rotates U's column,
  // lane 1 W's (the rotations never touch position 0, the one place U and W rows differ).
  if (!value_column || ctx.lane > 1) return;
  const uint32_t rotations = static_cast<uint32_t>(dc_int(p, w2, matrix, kDcNodeRotations)[r0]);
  MSVD_DEVICE C* q = ctx.lane == 0 ? qu : qw;
  MSVD_DEVICE const C* rot_c = dc_real(p, w0, matrix, kDcRotationC) + r0;
  MSVD_DEVICE const C* rot_s = dc_real(p, w0, matrix, kDcRotationS) + r0;
  MSVD_DEVICE const int32_t* rot_p = dc_int(p, w2, matrix, kDcRotationP) + r0;
  MSVD_DEVICE const int32_t* rot_q = dc_int(p, w2, matrix, kDcRotationQ) + r0;
  for (uint32_t r = rotations; r-- > 0;) {
    const int32_t a = source[rot_p[r]];
    const int32_t b = source[rot_q[r]];
    const C x = q[a];
    const C y = q[b];
    q[a] = rot_c[r] * x - rot_s[r] * y;
    q[b] = rot_s[r] * x + rot_c[r] * y;
  }
}

}  // namespace kernels
}  // namespace metalsvd

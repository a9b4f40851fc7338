#include "core/lanczos_svd.h"

#include <algorithm>
#include <string>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/svd.h"
#include "core/workspace_kernels.h"
#include "kernels/krylov.h"
#include "kernels/matrix_transfer.h"

namespace metalsvd {
namespace {

constexpr const char* kFunction = "metalsvd.lanczos_svd";
constexpr uint32_t kKrylovThreads = 256;
// Basis vectors beyond k: at least k (a basis of 2k converges in a few cycles on slowly
// decaying spectra) and at least this many for small k, where a short basis restarts too often.
constexpr uint32_t kMinExtraVectors = 20;
constexpr uint32_t kCopyElementsPerGroup = kKrylovThreads * 8;
constexpr uint32_t kMaxCopyGroupsPerMatrix = 1024;

MatrixBatch column_of(const MatrixBatch& m, uint32_t column) {
  return sub_block(m, 0, column, m.rows, 1);
}

}  // namespace

LanczosPlan plan_lanczos(uint32_t rows, uint32_t cols, uint32_t k) {
  LanczosPlan plan;
  plan.k = k;
  const uint32_t min_mn = std::min(rows, cols);
  plan.work = static_cast<uint32_t>(
      std::min<uint64_t>(min_mn, uint64_t{k} + std::max(k, kMinExtraVectors)));
  // Half of the extra vectors survive a restart: they carry the next singular directions,
  // which speeds up convergence where the spectrum decays slowly.
  plan.kept = std::min(plan.work - 1, k + (plan.work - k) / 2);
  return plan;
}

uint32_t lanczos_random_columns(const LanczosPlan& plan) { return 2 * plan.work + 1; }

struct LanczosSvd::Regions {
  Buffer state;
  TallInput input;
  MatrixBatch u;       // m x work: the left basis
  MatrixBatch v;       // n x (work + 1): the right basis and the next start vector
  MatrixBatch b;       // work x work: A V = U B
  MatrixBatch betas;   // 1 x work: the norms of the right-hand remainders
  MatrixBatch p;       // m x 1
  MatrixBatch r;       // n x 1
  MatrixBatch h;       // 2 work x 1: the Gram-Schmidt coefficients of both passes
  MatrixBatch ritz_u;  // work x work: B = P S Q^T
  MatrixBatch ritz_s;  // 1 x work
  MatrixBatch ritz_v;  // work x work
  Buffer ritz_info;
  Buffer svd_workspace;
  MatrixBatch kept_u;     // m x kept
  MatrixBatch kept_v;     // n x kept
  MatrixBatch kept_s;     // 1 x kept
  MatrixBatch residuals;  // 1 x k
};

LanczosSvd::LanczosSvd(Backend& backend, const MatrixBatch& a, uint32_t k,
                       const LanczosOutputs& out, const MatrixBatch& random, float tolerance)
    : backend_(backend),
      a_(a),
      plan_(plan_lanczos(a.rows, a.cols, k)),
      out_(out),
      random_(random),
      tolerance_(tolerance),
      c_(compute_type(a.dtype)) {
  check_truncated(backend, kFunction, a, k, out.svd);
  if (out.residuals.length != k || out.residuals.batch != a.batch || out.residuals.dtype != a.dtype)
    throw InvalidArgument(std::string(kFunction) + ": residuals must be k values per matrix");
  if (random.rows != std::max(a.rows, a.cols) || random.cols != lanczos_random_columns(plan_) ||
      random.batch != a.batch || random.dtype != c_ || random.row_stride != 1)
    throw InvalidArgument(std::string(kFunction) +
                          ": the random vectors must be max(m, n) x (2 work + 1) column-major "
                          "matrices in the compute type, one per matrix");
  if (!(tolerance > 0)) throw InvalidArgument(std::string(kFunction) + ": tol must be > 0");
  regions({}, &workspace_bytes_);
}

// Every method walks the same regions; the constructor's walk (from no base) sizes them.
LanczosSvd::Regions LanczosSvd::regions(Buffer workspace, uint64_t* bytes) const {
  WorkspaceLayout layout(workspace);
  const uint32_t batch = a_.batch;
  const uint32_t w = plan_.work;
  Regions r;
  r.state = layout.take(uint64_t{batch} * kernels::kKrylovStateStride * 4);
  r.input = take_tall_input(layout, a_, out_.svd);
  const uint32_t m = r.input.a.rows, n = r.input.a.cols;
  r.u = take_matrix(layout, c_, batch, m, w);
  r.v = take_matrix(layout, c_, batch, n, w + 1);
  r.b = take_matrix(layout, c_, batch, w, w);
  r.betas = take_matrix(layout, c_, batch, 1, w);
  r.p = take_matrix(layout, c_, batch, m, 1);
  r.r = take_matrix(layout, c_, batch, n, 1);
  r.h = take_matrix(layout, c_, batch, 2 * w, 1);
  r.ritz_u = take_matrix(layout, c_, batch, w, w);
  r.ritz_s = take_matrix(layout, c_, batch, 1, w);
  r.ritz_v = take_matrix(layout, c_, batch, w, w);
  r.ritz_info = layout.take(uint64_t{batch} * 4);
  const uint64_t svd_bytes = svd_workspace_bytes(backend_, r.b, false);
  r.svd_workspace = svd_bytes > 0 ? layout.take(svd_bytes) : Buffer{};
  r.kept_u = take_matrix(layout, c_, batch, m, plan_.kept);
  r.kept_v = take_matrix(layout, c_, batch, n, plan_.kept);
  r.kept_s = take_matrix(layout, c_, batch, 1, plan_.kept);
  r.residuals = take_matrix(layout, c_, batch, 1, plan_.k);
  if (bytes != nullptr) *bytes = layout.bytes();
  return r;
}

kernels::KrylovParams LanczosSvd::params() const {
  kernels::KrylovParams p{};
  p.batch = a_.batch;
  p.threads = kKrylovThreads;
  p.work = plan_.work;
  p.kept = plan_.kept;
  p.wanted = plan_.k;
  p.tolerance = tolerance_;
  p.b_column = -1;
  p.beta_index = -1;
  p.groups_per_matrix = 1;
  return p;
}

void LanczosSvd::launch(const char* function, const kernels::KrylovParams& p,
                        const WorkspaceBuffers& buffers) const {
  const uint32_t scratch = kernels::kSimdWidth * element_size(c_);
  launch_workspace_kernel(backend_, workspace_kernel_name(function, c_),
                          a_.batch * p.groups_per_matrix, kKrylovThreads, scratch, p, buffers);
}

void LanczosSvd::start(Buffer workspace) {
  const Regions r = regions(workspace, nullptr);
  kernels::KrylovParams p = params();
  p.count = r.input.loaded ? 0 : 1;  // krylov_start: 1 resets the exponent nothing else sets
  WorkspaceBuffers b;
  b.state = r.state;
  launch("krylov_start", p, b);
  load_tall_input(backend_, r.input, r.state, kernels::kKrylovStateStride);
  // v_0: random column 0, normalised; B = 0.
  normalize(r, sub_block(random_, 0, 0, r.v.rows, 1), r.v, 0, 0, false, 0);
  reset_projection(r, 0);
}

// B <- diag(the first `kept` Ritz values), kept_s <- those values, unless frozen.
void LanczosSvd::reset_projection(const Regions& r, uint32_t kept) {
  kernels::KrylovParams p = params();
  p.kept = kept;
  p.vec_batch_stride = r.b.batch_stride;
  p.small_ld = static_cast<uint32_t>(r.b.col_stride);
  p.coef_batch_stride = r.ritz_s.batch_stride;
  p.basis_batch_stride = r.kept_s.batch_stride;
  WorkspaceBuffers b;
  b.io = r.b.data;
  b.w0 = r.ritz_s.data;
  b.w1 = r.kept_s.data;
  b.state = r.state;
  launch("krylov_restart", p, b);
}

// The parameters and buffers of the vector kernels on x: coefficients in h, `column` of
// `columns` (the basis or the random vectors).
kernels::KrylovParams LanczosSvd::vector_params(const Regions& r, const MatrixBatch& x,
                                                const MatrixBatch& columns, uint32_t count,
                                                uint32_t column, WorkspaceBuffers& b) const {
  kernels::KrylovParams p = params();
  p.vec_batch_stride = x.batch_stride;
  p.coef_batch_stride = r.h.batch_stride;
  p.basis_batch_stride = columns.batch_stride;
  p.basis_ld = static_cast<uint32_t>(columns.col_stride);
  p.length = x.rows;
  p.count = count;
  p.coef_ld = plan_.work;
  p.column = column;
  b.io = x.data;
  b.w0 = r.h.data;
  b.w1 = columns.data;
  b.state = r.state;
  return p;
}

// x <- x - basis (basis^T x), twice (classical Gram-Schmidt with reorthogonalisation); the
// first pass's remainder is checked for breakdown and replaced by the random column if so.
void LanczosSvd::orthogonalize(const Regions& r, const MatrixBatch& basis, const MatrixBatch& x,
                               uint32_t count, uint32_t random_column) {
  const uint32_t w = plan_.work;
  const MatrixBatch span = sub_block(basis, 0, 0, basis.rows, count);
  const MatrixBatch h1 = sub_block(r.h, 0, 0, count, 1);
  const MatrixBatch h2 = sub_block(r.h, w, 0, count, 1);
  if (count > 0) {
    backend_.gemm({transposed(span), x, h1, 1.0, 0.0});
    backend_.gemm({span, h1, x, -1.0, 1.0});
  }
  WorkspaceBuffers b;
  const kernels::KrylovParams p = vector_params(r, x, random_, count, random_column, b);
  launch("krylov_orth_check", p, b);
  if (count > 0) {
    backend_.gemm({transposed(span), x, h2, 1.0, 0.0});
    backend_.gemm({span, h2, x, -1.0, 1.0});
  }
}

// basis[:, column] <- x / |x|; the U step records B's column j, the V step beta_j.
void LanczosSvd::normalize(const Regions& r, const MatrixBatch& x, const MatrixBatch& basis,
                           uint32_t count, uint32_t column, bool u_step, uint32_t j) {
  WorkspaceBuffers b;
  kernels::KrylovParams p = vector_params(r, x, basis, count, column, b);
  if (u_step) {
    p.small_batch_stride = r.b.batch_stride;
    p.small_ld = static_cast<uint32_t>(r.b.col_stride);
    p.b_column = static_cast<int32_t>(j);
    b.w2 = r.b.data;
  } else if (count > 0) {
    p.small_batch_stride = r.betas.batch_stride;
    p.beta_index = static_cast<int32_t>(j);
    b.w2 = r.betas.data;
  }
  launch("krylov_normalize", p, b);
}

// One Golub-Kahan step: u_j from A v_j, then v_{j+1} from A^T u_j, each orthogonalised against
// the whole basis so far (full reorthogonalisation: no ghost singular values).
void LanczosSvd::step(const Regions& r, uint32_t j) {
  const uint32_t w = plan_.work;
  const MatrixBatch& a = r.input.a;
  backend_.gemm({a, column_of(r.v, j), r.p, 1.0, 0.0});
  orthogonalize(r, r.u, r.p, j, w + 1 + j);
  normalize(r, r.p, r.u, j, j, true, j);
  backend_.gemm({transposed(a), column_of(r.u, j), r.r, 1.0, 0.0});
  orthogonalize(r, r.v, r.r, j + 1, j + 1);
  normalize(r, r.r, r.v, j + 1, j + 1, false, j);
}

void LanczosSvd::copy_columns(const Regions& r, const MatrixBatch& dst, const MatrixBatch& src) {
  kernels::KrylovParams p = params();
  p.vec_batch_stride = dst.batch_stride;
  p.coef_batch_stride = src.batch_stride;
  p.basis_ld = static_cast<uint32_t>(dst.col_stride);
  p.small_ld = static_cast<uint32_t>(src.col_stride);
  p.length = dst.rows;
  p.cols = dst.cols;
  const uint64_t elements = uint64_t{dst.rows} * dst.cols;
  p.groups_per_matrix = static_cast<uint32_t>(std::clamp<uint64_t>(
      (elements + kCopyElementsPerGroup - 1) / kCopyElementsPerGroup, 1, kMaxCopyGroupsPerMatrix));
  WorkspaceBuffers b;
  b.io = dst.data;
  b.w0 = src.data;
  b.state = r.state;
  launch("krylov_copy_columns", p, b);
}

void LanczosSvd::cycle(Buffer workspace, bool first) {
  const Regions r = regions(workspace, nullptr);
  const uint32_t w = plan_.work, kept = plan_.kept;
  for (uint32_t j = first ? 0 : kept; j < w; ++j) step(r, j);

  SvdOutputs ritz;
  ritz.u = r.ritz_u;
  ritz.s = VectorBatch{r.ritz_s.data, c_, a_.batch, w, r.ritz_s.batch_stride, 1};
  ritz.v = r.ritz_v;
  ritz.info = r.ritz_info;
  svd(backend_, r.b, false, ritz, r.svd_workspace);

  kernels::KrylovParams p = params();
  p.vec_batch_stride = r.ritz_u.batch_stride;
  p.small_ld = static_cast<uint32_t>(r.ritz_u.col_stride);
  p.coef_batch_stride = r.ritz_s.batch_stride;
  p.basis_batch_stride = r.betas.batch_stride;
  p.small_batch_stride = r.residuals.batch_stride;
  WorkspaceBuffers b;
  b.io = r.ritz_u.data;
  b.w0 = r.ritz_s.data;
  b.w1 = r.betas.data;
  b.w2 = r.residuals.data;
  b.state = r.state;
  b.info = out_.svd.info;
  launch("krylov_residuals", p, b);

  // Thick restart: U_kept = U P_kept, V_kept = V Q_kept, v_kept = the last remainder, and
  // B = diag(S_kept); the next step's coefficients fill B's column `kept` (irlba's rho).
  const uint32_t m = r.u.rows, n = r.v.rows;
  backend_.gemm({r.u, sub_block(r.ritz_u, 0, 0, w, kept), r.kept_u, 1.0, 0.0});
  backend_.gemm(
      {sub_block(r.v, 0, 0, n, w), sub_block(r.ritz_v, 0, 0, w, kept), r.kept_v, 1.0, 0.0});
  copy_columns(r, sub_block(r.u, 0, 0, m, kept), r.kept_u);
  copy_columns(r, sub_block(r.v, 0, 0, n, kept), r.kept_v);
  copy_columns(r, column_of(r.v, kept), column_of(r.v, w));
  reset_projection(r, kept);
}

void LanczosSvd::finish(Buffer workspace) {
  const Regions r = regions(workspace, nullptr);
  const uint32_t k = plan_.k;
  const TallInput& t = r.input;
  enqueue_store(backend_, sub_block(r.u, 0, 0, r.u.rows, k), t.u, {}, 0, 0);
  enqueue_store(backend_, sub_block(r.v, 0, 0, r.v.rows, k), t.v, {}, 0, 0);
  // Singular values and residuals scale with the input.
  const Buffer state = t.loaded ? r.state : Buffer{};
  const uint32_t stride = t.loaded ? uint32_t{kernels::kKrylovStateStride} : 0u;
  const uint32_t mode = t.loaded ? uint32_t{kernels::kTransferScaled} : 0u;
  enqueue_store(backend_, sub_block(r.kept_s, 0, 0, 1, k), vector_as_row(out_.svd.s), state, stride,
                mode);
  enqueue_store(backend_, r.residuals, vector_as_row(out_.residuals), state, stride, mode);
}

}  // namespace metalsvd

// Truncated SVD by Golub-Kahan-Lanczos bidiagonalisation with full reorthogonalisation and
// thick restarts (Baglama and Reichel 2005, irlba): the k largest singular triplets to a
// residual tolerance. One restart cycle is enqueued at a time; the caller decides, between
// cycles, whether to run another (lanczos_svd_ex reads `info` on the host for that).
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/truncated_svd.h"
#include "core/workspace_kernels.h"
#include "kernels/krylov.h"
#include "matrix_batch.h"

namespace metalsvd {

// The Krylov basis has `work` vectors; a restart keeps the `kept` best Ritz vectors (k of
// them wanted, the others help the next cycle along, as ARPACK's and irlba's extra vectors).
struct LanczosPlan {
  uint32_t k = 0;
  uint32_t work = 0;
  uint32_t kept = 0;
};

LanczosPlan plan_lanczos(uint32_t rows, uint32_t cols, uint32_t k);

struct LanczosOutputs {
  TruncatedSvdOutputs svd;  // info: 0 converged, 1 not (yet), 2 non-finite input
  VectorBatch residuals;    // k per matrix: ||A^T u_i - sigma_i v_i|| (A v_i = sigma_i u_i)
};

// Columns of the random matrix the caller supplies: max(rows, cols) x (2 work + 1), compute
// type. Column 0 starts the basis; the others replace a vector when the Krylov space is
// exhausted (breakdown), so the result depends on them alone: a seeded draw makes it
// reproducible.
uint32_t lanczos_random_columns(const LanczosPlan& plan);

class LanczosSvd {
 public:
  // Converged when every wanted residual <= tolerance * sigma_max.
  LanczosSvd(Backend& backend, const MatrixBatch& a, uint32_t k, const LanczosOutputs& out,
             const MatrixBatch& random, float tolerance);

  uint64_t workspace_bytes() const { return workspace_bytes_; }
  // Loads the input and the first basis vector.
  void start(Buffer workspace);
  // Extends the basis to `work` vectors, takes the SVD of the projection B on the device,
  // computes residuals and convergence, and restarts with the kept Ritz vectors (frozen for
  // matrices that converged in an earlier cycle). info says which matrices have converged.
  void cycle(Buffer workspace, bool first);
  // Writes U, S, V and the residuals of the last cycle.
  void finish(Buffer workspace);

 private:
  struct Regions;
  Regions regions(Buffer workspace, uint64_t* bytes) const;
  kernels::KrylovParams params() const;
  void launch(const char* function, const kernels::KrylovParams& p,
              const WorkspaceBuffers& buffers) const;
  kernels::KrylovParams vector_params(const Regions& r, const MatrixBatch& x,
                                      const MatrixBatch& columns, uint32_t count, uint32_t column,
                                      WorkspaceBuffers& b) const;
  void step(const Regions& r, uint32_t j);
  void orthogonalize(const Regions& r, const MatrixBatch& basis, const MatrixBatch& x,
                     uint32_t count, uint32_t random_column);
  void normalize(const Regions& r, const MatrixBatch& x, const MatrixBatch& basis, uint32_t count,
                 uint32_t column, bool u_step, uint32_t j);
  void reset_projection(const Regions& r, uint32_t kept);
  void copy_columns(const Regions& r, const MatrixBatch& dst, const MatrixBatch& src);

  Backend& backend_;
  MatrixBatch a_;
  LanczosPlan plan_;
  LanczosOutputs out_;
  MatrixBatch random_;
  float tolerance_;
  ScalarType c_;
  uint64_t workspace_bytes_ = 0;
};

}  // namespace metalsvd

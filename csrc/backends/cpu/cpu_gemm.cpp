#include "backends/cpu/cpu_gemm.h"

#include <algorithm>
#include <vector>

namespace metalsvd {
namespace {

template <typename C>
C* element_base(const MatrixBatch& m) {
  return reinterpret_cast<C*>(static_cast<char*>(m.data.handle) + m.data.offset);
}

// Column by column with a contiguous accumulator, so the inner loop runs down a's columns.
template <typename C>
void gemm_typed(const Gemm& g) {
  const C alpha = static_cast<C>(g.alpha);
  const C beta = static_cast<C>(g.beta);
  const C* a = element_base<C>(g.a);
  const C* b = element_base<C>(g.b);
  C* c = element_base<C>(g.c);
  std::vector<C> column(g.c.rows);
  for (uint32_t batch = 0; batch < g.c.batch; ++batch) {
    const C* ab = a + batch * g.a.batch_stride;
    const C* bb = b + batch * g.b.batch_stride;
    C* cb = c + batch * g.c.batch_stride;
    for (uint32_t j = 0; j < g.c.cols; ++j) {
      std::fill(column.begin(), column.end(), C(0));
      for (uint32_t l = 0; l < g.a.cols; ++l) {
        const C blj = bb[l * g.b.row_stride + j * g.b.col_stride];
        if (blj == C(0)) continue;
        const C* al = ab + l * g.a.col_stride;
        for (uint32_t i = 0; i < g.c.rows; ++i) column[i] += al[i * g.a.row_stride] * blj;
      }
      for (uint32_t i = 0; i < g.c.rows; ++i) {
        C& cij = cb[i * g.c.row_stride + j * g.c.col_stride];
        cij = beta == C(0) ? alpha * column[i] : alpha * column[i] + beta * cij;
      }
    }
  }
}

}  // namespace

void cpu_gemm(const Gemm& gemm) {
  if (gemm.c.dtype == ScalarType::f64)
    gemm_typed<double>(gemm);
  else
    gemm_typed<float>(gemm);
}

}  // namespace metalsvd

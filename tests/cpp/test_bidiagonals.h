// Upper bidiagonal test matrices, shared by the divide-and-conquer and the values tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "test_matrices.h"

namespace metalsvd {
namespace testing {

// An upper bidiagonal matrix by its diagonal d and superdiagonal e.
struct Bidiagonal {
  std::vector<double> d, e;
  // Dense, with its entries rounded to C first (as a kernel computing in C sees them).
  template <typename C = double>
  MatrixXd dense() const {
    const int n = static_cast<int>(d.size());
    MatrixXd b = MatrixXd::Zero(n, n);
    for (int i = 0; i < n; ++i) {
      b(i, i) = static_cast<double>(static_cast<C>(d[i]));
      if (i + 1 < n) b(i, i + 1) = static_cast<double>(static_cast<C>(e[i]));
    }
    return b;
  }
};

inline Bidiagonal random_bidiagonal(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Bidiagonal b;
  for (int i = 0; i < n; ++i) b.d.push_back(normal(rng));
  for (int i = 0; i + 1 < n; ++i) b.e.push_back(normal(rng));
  return b;
}

// Every matrix's d (n) then e (n - 1) at offset n, 2n apart, in C: the kernels' layout.
template <typename C>
std::vector<C> packed_diagonals(const std::vector<Bidiagonal>& inputs) {
  const size_t n = inputs[0].d.size();
  std::vector<C> de(inputs.size() * 2 * n, C(0));
  for (size_t b = 0; b < inputs.size(); ++b)
    for (size_t i = 0; i < n; ++i) {
      de[b * 2 * n + i] = static_cast<C>(inputs[b].d[i]);
      if (i + 1 < n) de[b * 2 * n + n + i] = static_cast<C>(inputs[b].e[i]);
    }
  return de;
}

}  // namespace testing
}  // namespace metalsvd

// Test matrices with known singular values, and the checks every SVD test applies, against
// Eigen in double precision as the independent reference.
#pragma once

#include <Eigen/Dense>
#include <Eigen/SVD>
#include <random>
#include <vector>

namespace metalsvd {
namespace testing {

using MatrixXd = Eigen::MatrixXd;
using VectorXd = Eigen::VectorXd;

inline MatrixXd gaussian(int rows, int cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  MatrixXd m(rows, cols);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) m(i, j) = normal(rng);
  return m;
}

// A random matrix with orthonormal columns.
inline MatrixXd random_orthonormal(int rows, int cols, std::mt19937_64& rng) {
  Eigen::HouseholderQR<MatrixXd> qr(gaussian(rows, cols, rng));
  return qr.householderQ() * MatrixXd::Identity(rows, cols);
}

// rows x cols matrix with the given singular values (min(rows, cols) of them).
inline MatrixXd with_singular_values(int rows, int cols, const VectorXd& sigma,
                                     std::mt19937_64& rng) {
  const int k = static_cast<int>(sigma.size());
  return random_orthonormal(rows, k, rng) * sigma.asDiagonal() *
         random_orthonormal(cols, k, rng).transpose();
}

// sigma_i = 10^(-decades * i / (k-1)): condition number 10^decades.
inline VectorXd graded_spectrum(int k, double decades) {
  VectorXd s(k);
  for (int i = 0; i < k; ++i) s(i) = std::pow(10.0, k > 1 ? -decades * i / (k - 1) : 0.0);
  return s;
}

struct SvdErrors {
  double sigma;            // max |s_i - s_ref_i| / s_ref_max
  double sigma_relative;   // max |s_i - s_ref_i| / s_ref_i over nonzero s_ref_i
  double u_orthogonality;  // max |U^T U - I|
  double v_orthogonality;
  double reconstruction;  // ||A - U S V^T||_F / ||A||_F
  bool sorted;            // S descending and non-negative
};

inline SvdErrors svd_errors(const MatrixXd& a, const MatrixXd& u, const VectorXd& s,
                            const MatrixXd& v) {
  Eigen::JacobiSVD<MatrixXd> reference(a);
  const VectorXd& ref = reference.singularValues();
  SvdErrors e{};
  const double smax = ref.size() ? ref(0) : 0.0;
  for (int i = 0; i < s.size(); ++i) {
    const double diff = std::abs(s(i) - ref(i));
    e.sigma = std::max(e.sigma, smax > 0 ? diff / smax : diff);
    if (ref(i) > 0) e.sigma_relative = std::max(e.sigma_relative, diff / ref(i));
  }
  const int k = static_cast<int>(s.size());
  e.u_orthogonality =
      (u.transpose() * u - MatrixXd::Identity(u.cols(), u.cols())).cwiseAbs().maxCoeff();
  e.v_orthogonality =
      (v.transpose() * v - MatrixXd::Identity(v.cols(), v.cols())).cwiseAbs().maxCoeff();
  const double norm = a.norm();
  const MatrixXd residual = a - u.leftCols(k) * s.asDiagonal() * v.leftCols(k).transpose();
  e.reconstruction = norm > 0 ? residual.norm() / norm : residual.norm();
  e.sorted = true;
  for (int i = 0; i < k; ++i) {
    if (s(i) < 0) e.sorted = false;
    if (i > 0 && s(i) > s(i - 1)) e.sorted = false;
  }
  return e;
}

}  // namespace testing
}  // namespace metalsvd

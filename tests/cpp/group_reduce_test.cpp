// The SIMD row sums of kernels/group_reduce.h on the emulator: every lane holds a column of a
// block of N rows, and the butterflies must give each row's sum over the SIMD group — scattered
// (lane l: row l mod N) or gathered back to every lane — for every N they are instantiated for.
// The values are small integers, so the sums are exact in any order.
#include "kernels/group_reduce.h"

#include <gtest/gtest.h>

#include <vector>

#include "backends/cpu/emulator.h"
#include "kernels/dialect.h"

namespace metalsvd {
namespace {

using kernels::SimdRows;
using kernels::ThreadContext;

constexpr uint32_t kGroups = 2;  // two SIMD groups: no sum may cross from one to the other
constexpr uint32_t kThreads = kGroups * kernels::kSimdWidth;

// Row i, lane l of SIMD group g.
double entry(uint32_t g, uint32_t lane, uint32_t i) { return 1000.0 * g + 37.0 * i + lane % 11; }

double row_sum(uint32_t g, uint32_t i) {
  double sum = 0;
  for (uint32_t lane = 0; lane < kernels::kSimdWidth; ++lane) sum += entry(g, lane, i);
  return sum;
}

template <uint32_t N>
SimdRows<double, N> rows_of(const ThreadContext& ctx) {
  SimdRows<double, N> rows;
  for (uint32_t i = 0; i < N; ++i) rows.x[i] = entry(ctx.simd_group, ctx.lane, i);
  return rows;
}

template <uint32_t N>
void expect_row_sums(uint64_t seed) {
  std::vector<double> scattered(kThreads);
  std::vector<double> gathered(kThreads * N);
  emu::EmulatorOptions options;
  options.schedule_seed = seed;
  emu::run_grid(
      1, kThreads, 0,
      [&](const ThreadContext& ctx, void*) {
        scattered[ctx.thread_index] = kernels::simd_row_sum_scattered(rows_of<N>(ctx), ctx.lane);
        const SimdRows<double, N> sums = kernels::simd_row_sums(rows_of<N>(ctx), ctx.lane);
        for (uint32_t i = 0; i < N; ++i) gathered[ctx.thread_index * N + i] = sums.x[i];
      },
      options);
  for (uint32_t t = 0; t < kThreads; ++t) {
    const uint32_t g = t / kernels::kSimdWidth;
    const uint32_t lane = t % kernels::kSimdWidth;
    EXPECT_EQ(scattered[t], row_sum(g, lane % N)) << "N " << N << ", thread " << t;
    for (uint32_t i = 0; i < N; ++i)
      EXPECT_EQ(gathered[t * N + i], row_sum(g, i))
          << "N " << N << ", thread " << t << ", row " << i;
  }
}

TEST(GroupReduce, SimdRowSumsForEveryBlockHeight) {
  for (uint64_t seed : {0, 3}) {
    expect_row_sums<1>(seed);
    expect_row_sums<2>(seed);
    expect_row_sums<4>(seed);
    expect_row_sums<8>(seed);
    expect_row_sums<16>(seed);
    expect_row_sums<32>(seed);
  }
}

// The butterfly alone sums a lane's row over the lanes that agree with it outside its low
// log2(N) bits: with N = 8, lane l gets row l mod 8 summed over the 8 lanes of its aligned block.
TEST(GroupReduce, SimdRowButterflyStaysInsideItsBlockOfLanes) {
  constexpr uint32_t N = 8;
  std::vector<double> out(kThreads);
  emu::run_grid(
      1, kThreads, 0,
      [&](const ThreadContext& ctx, void*) {
        out[ctx.thread_index] = kernels::simd_row_butterfly(rows_of<N>(ctx), ctx.lane);
      },
      emu::EmulatorOptions{});
  for (uint32_t t = 0; t < kThreads; ++t) {
    const uint32_t g = t / kernels::kSimdWidth;
    const uint32_t lane = t % kernels::kSimdWidth;
    double expected = 0;
    for (uint32_t other = lane / N * N; other < lane / N * N + N; ++other)
      expected += entry(g, other, lane % N);
    EXPECT_EQ(out[t], expected) << "thread " << t;
  }
}

}  // namespace
}  // namespace metalsvd

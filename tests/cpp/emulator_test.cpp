// Properties of the threadgroup emulator: each strictness rule of docs/architecture.md, shown
// on small kernels written in the kernel dialect.
#include "backends/cpu/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/dialect.h"

namespace metalsvd {
namespace {

using emu::EmulatorError;
using emu::EmulatorOptions;
using emu::run_grid;
using kernels::ThreadContext;

EmulatorOptions seeded(uint64_t seed) {
  EmulatorOptions options;
  options.schedule_seed = seed;
  return options;
}

// Each thread publishes its index, then reads its left neighbour's (thread 0 its own). With
// the barrier the result is right under every schedule.
void rotate_left(bool with_barrier, uint64_t seed, std::vector<int>& out) {
  const uint32_t threads = 64;
  out.assign(threads, 0);
  run_grid(
      1, threads, threads * sizeof(int),
      [&](const ThreadContext& ctx, void* tg) {
        int* slots = static_cast<int*>(tg);
        slots[ctx.thread_index] = static_cast<int>(ctx.thread_index);
        if (with_barrier) kernels::group_barrier();
        out[ctx.thread_index] = slots[ctx.thread_index == 0 ? 0 : ctx.thread_index - 1];
      },
      seeded(seed));
}

bool is_left_rotation(const std::vector<int>& out) {
  for (size_t t = 0; t < out.size(); ++t)
    if (out[t] != static_cast<int>(t == 0 ? 0 : t - 1)) return false;
  return true;
}

TEST(Emulator, BarrierOrdersThreadgroupMemoryUnderEverySchedule) {
  std::vector<int> out;
  for (uint64_t seed : {0, 1, 2, 3, 4}) {
    rotate_left(true, seed, out);
    EXPECT_TRUE(is_left_rotation(out)) << "seed " << seed;
  }
}

TEST(Emulator, ShuffledScheduleCatchesAMissingBarrier) {
  std::vector<int> out;
  // In thread order, thread t-1 has always written before thread t reads: the bug hides...
  rotate_left(false, 0, out);
  EXPECT_TRUE(is_left_rotation(out));
  // ...but a shuffled order makes some thread read its neighbour's slot before it is written.
  int caught = 0;
  for (uint64_t seed : {1, 2, 3}) {
    rotate_left(false, seed, out);
    caught += !is_left_rotation(out);
  }
  EXPECT_EQ(caught, 3);
}

TEST(Emulator, ThreadgroupMemoryIsPoisonedBeforeEachGroup) {
  std::vector<float> seen(2, 0.0f);
  std::vector<uint32_t> bits(2, 0);
  run_grid(
      2, 32, 64,
      [&](const ThreadContext& ctx, void* tg) {
        float* memory = static_cast<float*>(tg);
        if (ctx.thread_index == 0) {
          seen[ctx.group] = memory[3];
          std::memcpy(&bits[ctx.group], &memory[3], sizeof(uint32_t));
          memory[3] = 1.0f;  // must not leak into the next group
        }
      },
      seeded(0));
  for (int g = 0; g < 2; ++g) {
    EXPECT_TRUE(std::isnan(seen[g]));
    EXPECT_EQ(bits[g], 0xFFFFFFFFu);
  }
}

TEST(Emulator, ThreadgroupMemoryIsCappedLikeMetal) {
  const auto body = [](const ThreadContext&, void*) {};
  EXPECT_NO_THROW(run_grid(1, 32, 32 * 1024, body, EmulatorOptions{}));
  EXPECT_THROW(run_grid(1, 32, 32 * 1024 + 1, body, EmulatorOptions{}), EmulatorError);
  EmulatorOptions larger;
  larger.threadgroup_memory_bytes = 64 * 1024;
  EXPECT_NO_THROW(run_grid(1, 32, 64 * 1024, body, larger));
}

TEST(Emulator, BarrierNotReachedByEveryThreadIsAnError) {
  const auto body = [](const ThreadContext& ctx, void*) {
    if (ctx.thread_index >= 16) kernels::group_barrier();
  };
  EXPECT_THROW(run_grid(1, 64, 0, body, EmulatorOptions{}), EmulatorError);
}

TEST(Emulator, DifferentBarriersAreAnError) {
  const auto body = [](const ThreadContext& ctx, void*) {
    if (ctx.thread_index % 2 == 0) {
      kernels::group_barrier();
    } else {
      kernels::group_barrier();
    }
  };
  try {
    run_grid(1, 64, 0, body, EmulatorOptions{});
    FAIL() << "expected an EmulatorError";
  } catch (const EmulatorError& e) {
    EXPECT_NE(std::string(e.what()).find("same barrier"), std::string::npos) << e.what();
  }
}

TEST(Emulator, ShuffleXorExchangesWithinTheSimdGroup) {
  std::vector<float> out(64);
  for (uint64_t seed : {0, 7}) {
    run_grid(
        1, 64, 0,
        [&](const ThreadContext& ctx, void*) {
          out[ctx.thread_index] = kernels::shuffle_xor(static_cast<float>(ctx.thread_index), 5u);
        },
        seeded(seed));
    for (uint32_t t = 0; t < 64; ++t) EXPECT_EQ(out[t], static_cast<float>(t ^ 5u));
  }
}

TEST(Emulator, SimdBroadcastCopiesOneLaneToItsSimdGroup) {
  std::vector<double> out(64);
  run_grid(
      1, 64, 0,
      [&](const ThreadContext& ctx, void*) {
        out[ctx.thread_index] = kernels::simd_broadcast(1.5 * ctx.thread_index, 3u);
      },
      seeded(5));
  for (uint32_t t = 0; t < 64; ++t) EXPECT_EQ(out[t], 1.5 * (t / 32 * 32 + 3));
}

TEST(Emulator, SimdBroadcastFromDifferentLanesIsAnError) {
  // Metal asks for one source lane in the whole SIMD group; CUDA would allow it.
  const auto body = [](const ThreadContext& ctx, void*) {
    kernels::simd_broadcast(1.0f, ctx.lane == 9 ? 1u : 0u);
  };
  try {
    run_grid(1, 32, 0, body, EmulatorOptions{});
    FAIL() << "expected an EmulatorError";
  } catch (const EmulatorError& e) {
    EXPECT_NE(std::string(e.what()).find("one lane of the SIMD group"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(
      run_grid(
          1, 32, 0, [](const ThreadContext&, void*) { kernels::simd_broadcast(1.0f, 32u); },
          EmulatorOptions{}),
      EmulatorError);
}

TEST(Emulator, SimdReductionsCoverExactlyOneSimdGroup) {
  std::vector<double> sums(96);
  std::vector<float> maxima(96);
  run_grid(
      1, 96, 0,
      [&](const ThreadContext& ctx, void*) {
        sums[ctx.thread_index] = kernels::simd_reduce_sum(static_cast<double>(ctx.thread_index));
        maxima[ctx.thread_index] = kernels::simd_reduce_max(static_cast<float>(ctx.lane % 7));
      },
      seeded(3));
  for (uint32_t t = 0; t < 96; ++t) {
    const uint32_t first = t / 32 * 32;
    EXPECT_EQ(sums[t], 32.0 * first + 31.0 * 32.0 / 2.0);
    EXPECT_EQ(maxima[t], 6.0f);
  }
}

TEST(Emulator, SimdOperationNotReachedByAllLanesIsAnError) {
  const auto body = [](const ThreadContext& ctx, void*) {
    if (ctx.lane < 31) kernels::simd_reduce_sum(1.0f);
  };
  EXPECT_THROW(run_grid(1, 32, 0, body, EmulatorOptions{}), EmulatorError);
}

// load_quad reads four values at an address aligned to their size; elsewhere it would fault
// on CUDA and is undefined on Metal, so the emulator rejects it.
TEST(Emulator, WideLoadsMustBeAlignedToTheirSize) {
  alignas(32) const double values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<double> out(32 * 4);
  run_grid(
      1, 32, 0,
      [&](const ThreadContext& ctx, void*) {
        const kernels::Quad<double> q = kernels::load_quad(values + 4 * (ctx.lane % 2));
        for (uint32_t i = 0; i < 4; ++i) out[4 * ctx.lane + i] = q.x[i];
      },
      EmulatorOptions{});
  for (uint32_t t = 0; t < 32; ++t)
    for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(out[4 * t + i], 4.0 * (t % 2) + i + 1);
  for (const uint32_t offset : {1u, 2u}) {  // 8 and 16 bytes off a 32-byte boundary
    try {
      run_grid(
          1, 32, 0, [&](const ThreadContext&, void*) { kernels::load_quad(values + offset); },
          EmulatorOptions{});
      FAIL() << "expected an EmulatorError";
    } catch (const EmulatorError& e) {
      EXPECT_NE(std::string(e.what()).find("not aligned to 32 bytes"), std::string::npos)
          << e.what();
    }
  }
}

// A kernel that waits for the previous kernel in its body (on CUDA, after loads that may run
// while the previous kernel does) must wait once in every thread: a thread that skips the wait
// would race with the previous kernel, and a kernel that waits at its entry has the CUDA wrapper
// wait for it.
TEST(Emulator, WaitsForThePreviousKernelWhereTheKernelSays) {
  using emu::PreviousKernelWait;
  const auto waits = [](uint32_t skipping_thread, uint32_t times) {
    return [=](const ThreadContext& ctx, void*) {
      if (ctx.thread_index == skipping_thread) return;
      for (uint32_t i = 0; i < times; ++i) kernels::wait_for_previous_kernel();
    };
  };
  const uint32_t none = 64;  // no thread skips
  EXPECT_NO_THROW(
      run_grid(3, 64, 0, waits(none, 1), EmulatorOptions{}, PreviousKernelWait::in_body));
  EXPECT_NO_THROW(run_grid(3, 64, 0, waits(none, 0), EmulatorOptions{}));
  try {
    run_grid(3, 64, 0, waits(37, 1), EmulatorOptions{}, PreviousKernelWait::in_body);
    FAIL() << "expected an EmulatorError";
  } catch (const EmulatorError& e) {
    EXPECT_NE(std::string(e.what()).find("thread 37 waited for the previous kernel 0 times"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(run_grid(1, 32, 0, waits(none, 2), EmulatorOptions{}, PreviousKernelWait::in_body),
               EmulatorError);
  EXPECT_THROW(run_grid(1, 32, 0, waits(none, 1), EmulatorOptions{}), EmulatorError);
}

// Each thread publishes its index to device memory and, after a grid barrier, reads the one the
// thread of the same index in the next group published; after a second barrier it overwrites
// its slot. Every group reads every other's first writes and none of their second, under every
// schedule of the groups.
TEST(Emulator, GridBarrierOrdersDeviceMemoryAcrossGroups) {
  const uint32_t groups = 6, threads = 64, total = groups * threads;
  for (uint64_t seed : {0, 1, 2, 3}) {
    std::vector<int> slots(total, -1), out(total, -2);
    run_grid(
        groups, threads, 0,
        [&](const ThreadContext& ctx, void*) {
          const uint32_t i = ctx.group * threads + ctx.thread_index;
          slots[i] = static_cast<int>(i);
          kernels::grid_barrier();
          out[i] = slots[(i + threads) % total];
          kernels::grid_barrier();
          slots[i] = -3;
        },
        seeded(seed), emu::PreviousKernelWait::at_entry, emu::GridBarriers::all_groups_resident);
    for (uint32_t i = 0; i < total; ++i)
      ASSERT_EQ(out[i], static_cast<int>((i + threads) % total)) << "seed " << seed;
  }
}

// A grid barrier in a launch without grid barriers, one that a group or a thread returns without
// (a deadlock on a GPU), and more threads than the emulator holds at once are errors.
TEST(Emulator, GridBarrierRules) {
  const auto barrier_unless = [](uint32_t group, uint32_t thread) {
    return [=](const ThreadContext& ctx, void*) {
      if (ctx.group == group && (thread == 1024 || ctx.thread_index == thread)) return;
      kernels::grid_barrier();
    };
  };
  const uint32_t none = 1024;
  const auto resident = emu::GridBarriers::all_groups_resident;
  const auto entry = emu::PreviousKernelWait::at_entry;
  EXPECT_NO_THROW(run_grid(4, 64, 0, barrier_unless(none, none), seeded(1), entry, resident));
  const auto expect_error = [](const std::function<void()>& run, const std::string& message) {
    try {
      run();
      ADD_FAILURE() << "expected an EmulatorError: " << message;
    } catch (const EmulatorError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_error([&] { run_grid(4, 64, 0, barrier_unless(none, none), seeded(1)); },
               "reaches a grid barrier, but its launch has none");
  expect_error([&] { run_grid(4, 64, 0, barrier_unless(2, none), seeded(1), entry, resident); },
               "has returned without: every group must reach it");
  expect_error([&] { run_grid(4, 64, 0, barrier_unless(1, 33), seeded(1), entry, resident); },
               "not every thread reaches the same grid barrier");
  const uint64_t most = emu::max_resident_threads();
  expect_error(
      [&] {
        run_grid(static_cast<uint32_t>(most / 1024 + 1), 1024, 0, barrier_unless(none, none),
                 seeded(1), entry, resident);
      },
      "it holds at most");
}

TEST(Emulator, ExceptionsInAThreadReachTheCaller) {
  const auto body = [](const ThreadContext& ctx, void*) {
    if (ctx.thread_index == 5) throw std::runtime_error("thread 5 failed");
  };
  EXPECT_THROW(run_grid(4, 32, 0, body, EmulatorOptions{}), std::runtime_error);
}

TEST(Emulator, RejectsPartialSimdGroupsAndOversizedGroups) {
  const auto body = [](const ThreadContext&, void*) {};
  EXPECT_THROW(run_grid(1, 48, 0, body, EmulatorOptions{}), EmulatorError);
  EXPECT_THROW(run_grid(1, 2048, 0, body, EmulatorOptions{}), EmulatorError);
}

TEST(Emulator, IntrinsicsOutsideAKernelAreAnError) {
  EXPECT_THROW(kernels::group_barrier(), EmulatorError);
}

TEST(Emulator, GroupsRunInParallelWithIndependentMemory) {
  const uint32_t groups = 37;
  std::vector<int> out(groups * 32);
  EmulatorOptions options = seeded(11);
  options.host_threads = 3;
  run_grid(
      groups, 32, 32 * sizeof(int),
      [&](const ThreadContext& ctx, void* tg) {
        int* slots = static_cast<int*>(tg);
        slots[ctx.thread_index] = static_cast<int>(ctx.group * 1000 + ctx.thread_index);
        kernels::group_barrier();
        out[ctx.group * 32 + ctx.thread_index] = slots[31 - ctx.thread_index];
      },
      options);
  for (uint32_t g = 0; g < groups; ++g)
    for (uint32_t t = 0; t < 32; ++t)
      EXPECT_EQ(out[g * 32 + t], static_cast<int>(g * 1000 + 31 - t));
}

}  // namespace
}  // namespace metalsvd

// The CPU threadgroup emulator: runs GPU kernels written in the kernel dialect on the host, to
// test them, not to be fast. Each GPU thread is a fiber; a threadgroup's fibers run until each
// reaches a synchronisation point (barrier or SIMD-group operation), which then releases them.
//
// It is strict on purpose, since it is the only window on Metal behaviour without a Mac:
// - threadgroup memory comes from a per-group arena capped like Metal's (32 KiB by default)
//   and is poisoned (all bytes 0xFF: nan / -1) before each group, so reads before writes show;
// - a barrier that not every thread of the group reaches, at the same source line, is an
//   EmulatorError; so is a SIMD operation that not all 32 lanes reach together;
// - with a schedule seed, fibers run in a shuffled order between synchronisation points, which
//   exposes missing barriers as wrong results;
// - a kernel that waits for the previous kernel in its body must do so once in every thread,
//   and one that waits at its entry (in the CUDA wrapper) never in its body;
// - a launch with grid barriers runs all its groups at once, switching among them on one host
//   thread; a grid barrier that not every thread of every group reaches is an EmulatorError.
#pragma once

#include <cstdint>
#include <functional>

#include "core/errors.h"
#include "kernels/dialect.h"

namespace metalsvd {
namespace emu {

class EmulatorError : public Error {
 public:
  using Error::Error;
};

struct EmulatorOptions {
  uint32_t threadgroup_memory_bytes = 32 * 1024;  // Apple GPUs' threadgroup memory
  uint64_t schedule_seed = 0;  // 0: fibers run in thread order; otherwise a seeded shuffle
  uint32_t host_threads = 0;   // worker threads running groups in parallel; 0: all cores
  // The threads, all groups together, a launch with grid barriers may have, as a CUDA device
  // holds so many at once (at most max_resident_threads()); 0: no grid barriers, as on Metal,
  // which the emulator stands for by default.
  uint64_t resident_threads = 0;
};

// Where a kernel waits for the previous kernel of the stream (kernels::wait_for_previous_kernel,
// which only CUDA does anything for): at its entry, where the CUDA wrapper calls it and the body
// never does, or in its body (kernels::WaitsInBody), exactly once in every thread, since a CUDA
// thread that skips the wait would race with the previous kernel.
enum class PreviousKernelWait { at_entry, in_body };

// Whether a launch's groups meet at grid barriers (kernels::grid_barrier): then all of them are
// resident at once, and a barrier that some group returns without is an EmulatorError.
enum class GridBarriers { none, all_groups_resident };

// Body of one GPU thread; `threadgroup_memory` is the group's (poisoned) arena.
using KernelThread = std::function<void(const kernels::ThreadContext&, void* threadgroup_memory)>;

// Runs `groups` threadgroups of `threads_per_group` threads each and returns when all are done.
// Throws EmulatorError on a synchronisation error or a limit violation, and rethrows any
// exception raised by a thread.
void run_grid(uint32_t groups, uint32_t threads_per_group, uint32_t threadgroup_memory_bytes,
              const KernelThread& thread, const EmulatorOptions& options,
              PreviousKernelWait wait = PreviousKernelWait::at_entry,
              GridBarriers grid_barriers = GridBarriers::none);

// The most threads, all groups together, of a launch with grid barriers.
uint64_t max_resident_threads();

}  // namespace emu
}  // namespace metalsvd

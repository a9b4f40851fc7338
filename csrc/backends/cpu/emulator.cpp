#include "backends/cpu/emulator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "backends/cpu/fiber.h"

namespace metalsvd {
namespace emu {
namespace {

constexpr uint32_t kLanes = kernels::kSimdWidth;
constexpr uint32_t kMaxThreadsPerGroup = 1024;  // Metal's and CUDA's limit
// A launch with grid barriers holds all its threads' fibers at once.
constexpr uint64_t kMaxResidentThreads = uint64_t{1} << 14;
// Kernel frames are small; the margin covers exception unwinding inside a fiber.
constexpr std::size_t kFiberStackBytes = 256 * 1024;

enum class FiberState { runnable, at_barrier, at_simd, at_grid_barrier, done };

struct Fiber {
  ExecutionContext context;
  std::unique_ptr<FiberStack> stack;
  FiberState state = FiberState::runnable;
  int line = 0;
  bool device_memory = false;
  SimdOp op = SimdOp::shuffle_xor;
  uint64_t value = 0;
  uint32_t argument = 0;
  uint64_t result = 0;
  uint32_t previous_kernel_waits = 0;
  std::exception_ptr error;
};

const char* simd_op_name(SimdOp op) {
  switch (op) {
    case SimdOp::shuffle_xor:
      return "shuffle_xor";
    case SimdOp::broadcast:
      return "simd_broadcast";
    case SimdOp::sum_f32:
      return "simd_reduce_sum<float>";
    case SimdOp::sum_f64:
      return "simd_reduce_sum<double>";
    case SimdOp::max_f32:
      return "simd_reduce_max<float>";
    case SimdOp::max_f64:
      return "simd_reduce_max<double>";
  }
  return "?";
}

template <typename X>
X load_bits(uint64_t bits) {
  X x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}
template <typename X>
uint64_t store_bits(X x) {
  uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof x);
  return bits;
}

template <typename X>
uint64_t reduce_lanes(const Fiber* lanes, bool maximum) {
  X acc = load_bits<X>(lanes[0].value);
  for (uint32_t l = 1; l < kLanes; ++l) {
    const X x = load_bits<X>(lanes[l].value);
    acc = maximum ? std::fmax(acc, x) : acc + x;
  }
  return store_bits(acc);
}

// Where a group's threads stand when the scheduler stops running them.
enum class GroupProgress { running, at_grid_barrier, done };

class GroupScheduler;
thread_local GroupScheduler* t_scheduler = nullptr;

// Runs the fibers of one threadgroup at a time on the calling host thread.
class GroupScheduler {
 public:
  GroupScheduler(uint32_t threads, uint32_t arena_bytes, uint64_t seed)
      : fibers_(threads), arena_(arena_bytes ? arena_bytes : 1), seed_(seed) {
    for (Fiber& f : fibers_) f.stack = FiberStackPool::take(kFiberStackBytes);
  }
  ~GroupScheduler() {
    for (Fiber& f : fibers_) FiberStackPool::give(std::move(f.stack));
  }
  GroupScheduler(const GroupScheduler&) = delete;
  GroupScheduler& operator=(const GroupScheduler&) = delete;

  // Runs group `group` to its end. A grid barrier is an error here: its launch has none.
  void run(uint32_t group, const KernelThread& body, PreviousKernelWait wait) {
    start(group, body);
    if (resume() == GroupProgress::at_grid_barrier)
      fail("reaches a grid barrier, but its launch has none (KernelLaunch::grid_barriers)");
    check_previous_kernel_waits(wait);
  }

  // Prepares group `group`'s fibers, which resume() then runs.
  void start(uint32_t group, const KernelThread& body) {
    group_ = group;
    body_ = &body;
    std::memset(arena_.data(), 0xFF, arena_.size());
    for (Fiber& f : fibers_) {
      f.state = FiberState::runnable;
      f.error = nullptr;
      f.previous_kernel_waits = 0;
      prepare_fiber(f.context, *f.stack, &GroupScheduler::fiber_entry, main_);
    }
    rng_.seed(seed_ ^ (0x9E3779B97F4A7C15ull * (group + 1)));
  }

  // Runs the group's fibers until all have returned or all wait at a grid barrier.
  GroupProgress resume() {
    std::vector<uint32_t> order;
    GroupScheduler* const previous = t_scheduler;
    t_scheduler = this;
    try {
      GroupProgress progress;
      do {
        order.clear();
        for (uint32_t t = 0; t < fibers_.size(); ++t)
          if (fibers_[t].state == FiberState::runnable) order.push_back(t);
        if (seed_ != 0) std::shuffle(order.begin(), order.end(), rng_);
        for (uint32_t t : order) {
          current_ = t;
          switch_context(main_, fibers_[t].context);
          if (fibers_[t].error) std::rethrow_exception(fibers_[t].error);
        }
        progress = release_waiting();
      } while (progress == GroupProgress::running);
      t_scheduler = previous;
      return progress;
    } catch (...) {
      t_scheduler = previous;
      throw;
    }
  }

  // Lets the group's threads, all at a grid barrier, go on.
  void leave_grid_barrier() {
    for (Fiber& f : fibers_) f.state = FiberState::runnable;
  }

  void check_previous_kernel_waits(PreviousKernelWait wait) const {
    const uint32_t expected = wait == PreviousKernelWait::in_body ? 1 : 0;
    for (uint32_t t = 0; t < fibers_.size(); ++t) {
      const uint32_t waits = fibers_[t].previous_kernel_waits;
      if (waits != expected)
        fail("thread " + std::to_string(t) + " waited for the previous kernel " +
             std::to_string(waits) + " times; a kernel that waits " +
             (expected ? "in its body does so once in every thread"
                       : "at its entry never does in its body"));
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream message;
    message << "metalsvd emulator: threadgroup " << group_ << ": " << what;
    throw EmulatorError(message.str());
  }

  void count_previous_kernel_wait() { ++fibers_[current_].previous_kernel_waits; }

  void wait_at_barrier(bool device_memory, int line) {
    Fiber& f = fibers_[current_];
    f.state = FiberState::at_barrier;
    f.line = line;
    f.device_memory = device_memory;
    switch_context(f.context, main_);
  }

  void wait_at_grid_barrier(int line) {
    Fiber& f = fibers_[current_];
    f.state = FiberState::at_grid_barrier;
    f.line = line;
    switch_context(f.context, main_);
  }

  uint64_t wait_at_simd(SimdOp op, uint64_t value, uint32_t argument, int line) {
    Fiber& f = fibers_[current_];
    f.state = FiberState::at_simd;
    f.op = op;
    f.value = value;
    f.argument = argument;
    f.line = line;
    switch_context(f.context, main_);
    return fibers_[current_].result;
  }

 private:
  static void fiber_entry() {
    GroupScheduler* self = t_scheduler;
    const uint32_t t = self->current_;
    try {
      const kernels::ThreadContext ctx{t, self->group_, t % kLanes, t / kLanes};
      (*self->body_)(ctx, self->arena_.data());
    } catch (...) {
      self->fibers_[t].error = std::current_exception();
    }
    self->fibers_[t].state = FiberState::done;
    // Returning resumes main_ through uc_link.
  }

  std::string describe(uint32_t t) const {
    const Fiber& f = fibers_[t];
    std::ostringstream s;
    s << "thread " << t;
    switch (f.state) {
      case FiberState::runnable:
        s << " is running";
        break;
      case FiberState::done:
        s << " has returned";
        break;
      case FiberState::at_barrier:
        s << " waits at the barrier on line " << f.line;
        break;
      case FiberState::at_simd:
        s << " waits at " << simd_op_name(f.op) << " on line " << f.line;
        break;
      case FiberState::at_grid_barrier:
        s << " waits at the grid barrier on line " << f.line;
        break;
    }
    return s.str();
  }

  // Releases every SIMD group whose lanes all wait at the same SIMD operation, else the whole
  // group if all its threads wait at the same barrier; says where the group stands.
  GroupProgress release_waiting() {
    bool all_done = true;
    for (const Fiber& f : fibers_) all_done = all_done && f.state == FiberState::done;
    if (all_done) return GroupProgress::done;

    bool released = false;
    for (uint32_t first = 0; first < fibers_.size(); first += kLanes) {
      Fiber* lanes = &fibers_[first];
      uint32_t waiting = 0;
      for (uint32_t l = 0; l < kLanes; ++l) waiting += lanes[l].state == FiberState::at_simd;
      if (waiting == 0) continue;
      if (waiting != kLanes) {
        for (uint32_t l = 0; l < kLanes; ++l)
          if (lanes[l].state != FiberState::at_simd)
            fail("SIMD group " + std::to_string(first / kLanes) + " diverged: " + describe(first) +
                 ", but " + describe(first + l));
      }
      for (uint32_t l = 1; l < kLanes; ++l)
        if (lanes[l].op != lanes[0].op || lanes[l].line != lanes[0].line)
          fail("lanes of SIMD group " + std::to_string(first / kLanes) +
               " reached different SIMD operations: " + describe(first) + ", " +
               describe(first + l));
      exchange(lanes);
      for (uint32_t l = 0; l < kLanes; ++l) lanes[l].state = FiberState::runnable;
      released = true;
    }
    if (released) return GroupProgress::running;

    // A grid barrier, like a group barrier, is met by every thread at the same line (CUDA's
    // grid synchronisation begins with one of the block).
    uint32_t reference = 0;
    while (fibers_[reference].state == FiberState::done) ++reference;
    const FiberState waiting = fibers_[reference].state;
    for (uint32_t t = 0; t < fibers_.size(); ++t) {
      const Fiber& f = fibers_[t];
      if (f.state != waiting || f.line != fibers_[reference].line)
        fail(std::string("not every thread reaches the same ") +
             (waiting == FiberState::at_grid_barrier ? "grid barrier" : "barrier") + ": " +
             describe(reference) + ", but " + describe(t));
    }
    if (waiting == FiberState::at_grid_barrier) return GroupProgress::at_grid_barrier;
    for (Fiber& f : fibers_) f.state = FiberState::runnable;
    return GroupProgress::running;
  }

  void exchange(Fiber* lanes) {
    switch (lanes[0].op) {
      case SimdOp::shuffle_xor:
        for (uint32_t l = 0; l < kLanes; ++l) {
          const uint32_t source = l ^ lanes[l].argument;
          if (source >= kLanes)
            fail("shuffle_xor mask " + std::to_string(lanes[l].argument) +
                 " leaves the SIMD group");
          lanes[l].result = lanes[source].value;
        }
        return;
      case SimdOp::broadcast:
        // Metal asks for one source lane in the whole SIMD group; so does the emulator.
        for (uint32_t l = 0; l < kLanes; ++l)
          if (lanes[l].argument != lanes[0].argument || lanes[0].argument >= kLanes)
            fail("simd_broadcast from lane " + std::to_string(lanes[l].argument) + " in lane " +
                 std::to_string(l) + ", lane " + std::to_string(lanes[0].argument) +
                 " in lane 0: one lane of the SIMD group for every lane");
        broadcast(lanes, lanes[lanes[0].argument].value);
        return;
      case SimdOp::sum_f32:
        broadcast(lanes, reduce_lanes<float>(lanes, false));
        return;
      case SimdOp::sum_f64:
        broadcast(lanes, reduce_lanes<double>(lanes, false));
        return;
      case SimdOp::max_f32:
        broadcast(lanes, reduce_lanes<float>(lanes, true));
        return;
      case SimdOp::max_f64:
        broadcast(lanes, reduce_lanes<double>(lanes, true));
        return;
    }
  }

  static void broadcast(Fiber* lanes, uint64_t bits) {
    for (uint32_t l = 0; l < kLanes; ++l) lanes[l].result = bits;
  }

  std::vector<Fiber> fibers_;
  std::vector<unsigned char> arena_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  ExecutionContext main_;
  uint32_t current_ = 0;
  uint32_t group_ = 0;
  const KernelThread* body_ = nullptr;
};

GroupScheduler& current_scheduler(const char* what) {
  if (t_scheduler == nullptr)
    throw EmulatorError(std::string("metalsvd emulator: ") + what +
                        " called outside an emulated kernel");
  return *t_scheduler;
}

}  // namespace

void barrier(bool with_device_memory, int line) {
  current_scheduler("barrier").wait_at_barrier(with_device_memory, line);
}

uint64_t simd_exchange(SimdOp op, uint64_t value_bits, uint32_t argument, int line) {
  return current_scheduler("a SIMD-group operation").wait_at_simd(op, value_bits, argument, line);
}

void previous_kernel_wait() {
  current_scheduler("wait_for_previous_kernel").count_previous_kernel_wait();
}

void grid_barrier(int line) { current_scheduler("grid_barrier").wait_at_grid_barrier(line); }

void misaligned_load(const void* address, uint32_t alignment, int line) {
  std::ostringstream message;
  message << "metalsvd emulator: a wide load at " << address << " (line " << line
          << ") is not aligned to " << alignment << " bytes";
  throw EmulatorError(message.str());
}

namespace {

// A launch with grid barriers: every group at once, as on a GPU where all are resident, one
// host thread switching among them. Between two grid barriers the groups run one after another
// (in a shuffled order with a schedule seed), so a group may run past the next barrier's loads
// before another has finished the previous phase: what a GPU may also do.
void run_resident_groups(uint32_t groups, uint32_t threads_per_group,
                         uint32_t threadgroup_memory_bytes, const KernelThread& thread,
                         const EmulatorOptions& options, PreviousKernelWait wait) {
  if (uint64_t{groups} * threads_per_group > kMaxResidentThreads)
    throw EmulatorError("metalsvd emulator: a launch with grid barriers of " +
                        std::to_string(groups) + " groups of " + std::to_string(threads_per_group) +
                        " threads; it holds at most " + std::to_string(kMaxResidentThreads) +
                        " threads at once");
  std::vector<std::unique_ptr<GroupScheduler>> schedulers;
  for (uint32_t g = 0; g < groups; ++g) {
    schedulers.push_back(std::make_unique<GroupScheduler>(
        threads_per_group, threadgroup_memory_bytes, options.schedule_seed));
    schedulers.back()->start(g, thread);
  }
  std::vector<uint32_t> order(groups);
  for (uint32_t g = 0; g < groups; ++g) order[g] = g;
  std::mt19937_64 rng(options.schedule_seed);
  for (;;) {
    if (options.schedule_seed != 0) std::shuffle(order.begin(), order.end(), rng);
    uint32_t done = 0;
    uint32_t a_done = 0;
    uint32_t a_waiting = 0;
    for (uint32_t g : order) {
      if (schedulers[g]->resume() == GroupProgress::done) {
        ++done;
        a_done = g;
      } else {
        a_waiting = g;
      }
    }
    if (done == groups) break;
    if (done != 0)
      schedulers[a_waiting]->fail("waits at a grid barrier that threadgroup " +
                                  std::to_string(a_done) +
                                  " has returned without: every group must reach it");
    for (auto& s : schedulers) s->leave_grid_barrier();
  }
  for (auto& s : schedulers) s->check_previous_kernel_waits(wait);
}

}  // namespace

void run_grid(uint32_t groups, uint32_t threads_per_group, uint32_t threadgroup_memory_bytes,
              const KernelThread& thread, const EmulatorOptions& options, PreviousKernelWait wait,
              GridBarriers grid_barriers) {
  if (threads_per_group == 0 || threads_per_group % kLanes != 0 ||
      threads_per_group > kMaxThreadsPerGroup)
    throw EmulatorError("metalsvd emulator: " + std::to_string(threads_per_group) +
                        " threads per group; it runs whole SIMD groups of 32, at most 1024");
  if (threadgroup_memory_bytes > options.threadgroup_memory_bytes)
    throw EmulatorError("metalsvd emulator: the kernel asks for " +
                        std::to_string(threadgroup_memory_bytes) +
                        " bytes of threadgroup memory; the limit is " +
                        std::to_string(options.threadgroup_memory_bytes));
  if (groups == 0) return;
  if (grid_barriers == GridBarriers::all_groups_resident)
    return run_resident_groups(groups, threads_per_group, threadgroup_memory_bytes, thread, options,
                               wait);

  uint32_t workers = options.host_threads ? options.host_threads
                                          : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, groups);
  std::atomic<uint32_t> next_group{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      GroupScheduler scheduler(threads_per_group, threadgroup_memory_bytes, options.schedule_seed);
      for (uint32_t g = next_group++; g < groups && !failed; g = next_group++)
        scheduler.run(g, thread, wait);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (uint32_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

uint64_t max_resident_threads() { return kMaxResidentThreads; }

}  // namespace emu
}  // namespace metalsvd

// Minimal fibers for the threadgroup emulator: a stack with a guard page and a saved
// execution context to switch to and from.
#pragma once

#include <cstddef>
#include <memory>

#if defined(__APPLE__) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700  // ucontext is behind it on macOS
#endif
#include <ucontext.h>

namespace metalsvd {
namespace emu {

struct ExecutionContext {
  ucontext_t state;
};

class FiberStack {
 public:
  explicit FiberStack(std::size_t usable_bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  void* bottom() const { return usable_; }
  std::size_t size() const { return usable_size_; }

 private:
  void* mapping_ = nullptr;
  std::size_t mapping_size_ = 0;
  void* usable_ = nullptr;
  std::size_t usable_size_ = 0;
};

// Stacks kept for the next launch: mapping a stack and faulting its pages in costs more than
// most emulated kernels, and every launch needs one per thread of a group per host worker.
// Thread-safe; at most kMaxPooledStacks are kept.
class FiberStackPool {
 public:
  static std::unique_ptr<FiberStack> take(std::size_t usable_bytes);
  static void give(std::unique_ptr<FiberStack> stack);
};

// Makes `fiber` start `entry` on `stack` when first switched to; when `entry` returns,
// execution continues in `on_return`.
void prepare_fiber(ExecutionContext& fiber, FiberStack& stack, void (*entry)(),
                   ExecutionContext& on_return);

// Saves the running context into `current` and resumes `next`.
void switch_context(ExecutionContext& current, ExecutionContext& next);

}  // namespace emu
}  // namespace metalsvd

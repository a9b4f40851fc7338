#include "backends/cpu/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/errors.h"

namespace metalsvd {
namespace emu {

FiberStack::FiberStack(std::size_t usable_bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  usable_size_ = (usable_bytes + page - 1) / page * page;
  mapping_size_ = usable_size_ + page;
  mapping_ =
      mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) throw Error("metalsvd emulator: cannot allocate a fiber stack");
  // Stacks grow down: the lowest page traps an overflow instead of corrupting a neighbour.
  mprotect(mapping_, page, PROT_NONE);
  usable_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() { munmap(mapping_, mapping_size_); }

namespace {

// Two host workers' groups of 1024 threads, twice over.
constexpr std::size_t kMaxPooledStacks = 4096;

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

std::vector<std::unique_ptr<FiberStack>>& pooled() {
  static std::vector<std::unique_ptr<FiberStack>> stacks;
  return stacks;
}

}  // namespace

std::unique_ptr<FiberStack> FiberStackPool::take(std::size_t usable_bytes) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex());
    auto& stacks = pooled();
    for (std::size_t i = stacks.size(); i-- > 0;) {
      if (stacks[i]->size() < usable_bytes) continue;
      std::unique_ptr<FiberStack> stack = std::move(stacks[i]);
      stacks.erase(stacks.begin() + static_cast<std::ptrdiff_t>(i));
      return stack;
    }
  }
  return std::make_unique<FiberStack>(usable_bytes);
}

void FiberStackPool::give(std::unique_ptr<FiberStack> stack) {
  std::lock_guard<std::mutex> lock(pool_mutex());
  if (pooled().size() < kMaxPooledStacks) pooled().push_back(std::move(stack));
}

void prepare_fiber(ExecutionContext& fiber, FiberStack& stack, void (*entry)(),
                   ExecutionContext& on_return) {
  if (getcontext(&fiber.state) != 0) throw Error("metalsvd emulator: getcontext failed");
  fiber.state.uc_stack.ss_sp = stack.bottom();
  fiber.state.uc_stack.ss_size = stack.size();
  fiber.state.uc_link = &on_return.state;
  makecontext(&fiber.state, entry, 0);
}

void switch_context(ExecutionContext& current, ExecutionContext& next) {
  if (swapcontext(&current.state, &next.state) != 0)
    throw Error("metalsvd emulator: swapcontext failed");
}

}  // namespace emu
}  // namespace metalsvd

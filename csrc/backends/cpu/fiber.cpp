#include "backends/cpu/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

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

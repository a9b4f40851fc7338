// A device buffer as every layer sees it: an opaque handle plus a byte offset, because a Metal
// buffer is an object, not an address.
#pragma once

#include <cstdint>

namespace metalsvd {

struct Buffer {
  void* handle = nullptr;  // device pointer (cpu, cuda) or id<MTLBuffer> (metal)
  uint64_t offset = 0;     // bytes from the start of the handle's storage
};

// The same storage `bytes` further on.
inline Buffer advanced(Buffer b, uint64_t bytes) {
  b.offset += bytes;
  return b;
}

}  // namespace metalsvd

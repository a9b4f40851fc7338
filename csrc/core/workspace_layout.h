// Carves one device workspace into aligned regions: the same walk sizes the workspace (before
// the torch layer allocates it) and hands out the regions (when the work is enqueued).
#pragma once

#include <cstdint>

#include "buffer.h"

namespace metalsvd {

class WorkspaceLayout {
 public:
  // Regions start this many bytes apart at least; a base aligned so (as device allocations
  // are) aligns them for any element type, vector loads included.
  static constexpr uint64_t kAlignment = 256;

  explicit WorkspaceLayout(Buffer base = {}) : base_(base) {}
  // A region of `bytes`, aligned for any element type and for Metal's buffer offsets.
  Buffer take(uint64_t bytes) {
    const Buffer region = advanced(base_, used_);
    used_ += (bytes + kAlignment - 1) / kAlignment * kAlignment;
    return region;
  }
  uint64_t bytes() const { return used_; }

 private:
  Buffer base_;
  uint64_t used_ = 0;
};

}  // namespace metalsvd

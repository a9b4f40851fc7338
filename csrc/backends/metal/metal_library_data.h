// The shader library embedded in the extension at build time (tools/embed-metal-library writes
// the definitions): kernels.metal with the kernel headers it includes inlined, and, when the build
// had Apple's Metal toolchain, the same source precompiled to metallibs.
#pragma once

#include <cstddef>

namespace metalsvd {

struct EmbeddedBytes {
  const void* data;
  size_t size;  // 0: not embedded
};

// The source, UTF-8, to compile with newLibraryWithSource (always embedded).
EmbeddedBytes embedded_metal_source();

// The source precompiled for Metal Shading Language 3.`msl_minor` (0: macOS 13, no bfloat;
// 1: macOS 14 and later, with bfloat), or size 0.
EmbeddedBytes embedded_metallib(int msl_minor);

}  // namespace metalsvd

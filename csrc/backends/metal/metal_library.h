// The kernel library of one Metal device and its compute pipelines, looked up by kernel name (the
// host_name of each instantiation in kernels.metal). Objective-C++ only.
#pragma once

#ifndef __OBJC__
#error "metal_library.h declares Objective-C types: include it from Objective-C++ (.mm) only"
#endif

#import <Metal/Metal.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace metalsvd {

class MetalKernelLibrary {
 public:
  // The library of `device`: loaded from the embedded metallib, or compiled from the embedded
  // source, once per device and process (first use takes seconds when compiling). Thread-safe.
  static MetalKernelLibrary& for_device(id<MTLDevice> device);

  // The pipeline of the kernel named `name`, created on its first use. Thread-safe. Throws
  // NotImplemented for a bfloat16 kernel on an OS without bfloat, Error otherwise.
  id<MTLComputePipelineState> pipeline(const std::string& name);

  // Whether the library has the bfloat16 kernels (Metal Shading Language 3.1, macOS 14+).
  bool has_bfloat16() const { return has_bfloat16_; }
  // How the library was made, for error messages ("compiled from source for MSL 3.1", ...).
  const std::string& origin() const { return origin_; }

 private:
  explicit MetalKernelLibrary(id<MTLDevice> device);

  id<MTLDevice> device_;
  id<MTLLibrary> library_;
  std::string origin_;
  bool has_bfloat16_ = false;
  std::mutex mutex_;  // guards pipelines_
  std::unordered_map<std::string, id<MTLComputePipelineState>> pipelines_;
};

}  // namespace metalsvd

#include "backends/metal/metal_library.h"

#include <memory>
#include <string>
#include <unordered_map>

#include "backends/metal/metal_library_data.h"
#include "core/errors.h"
#include "kernels/dialect.h"

namespace metalsvd {
namespace {

std::string utf8(NSString* s) {
  const char* text = s == nil ? nullptr : s.UTF8String;
  return text == nullptr ? std::string() : std::string(text);
}

std::string describe(NSError* error) {
  return error == nil ? std::string("no reason given") : utf8(error.localizedDescription);
}

std::string os_version() { return utf8(NSProcessInfo.processInfo.operatingSystemVersionString); }

// The MSL minor version this OS compiles: 1 (bfloat) on macOS 14+, 0 on macOS 13; -1 before.
int msl3_minor() {
  if (@available(macOS 14.0, *)) return 1;
  if (@available(macOS 13.0, *)) return 0;
  return -1;
}

id<MTLLibrary> load_metallib(id<MTLDevice> device, EmbeddedBytes metallib, std::string* failure) {
  dispatch_data_t data =
      dispatch_data_create(metallib.data, metallib.size, nil, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
  NSError* error = nil;
  id<MTLLibrary> library = [device newLibraryWithData:data error:&error];
  if (library == nil) *failure = describe(error);
  return library;
}

id<MTLLibrary> compile_source(id<MTLDevice> device, int msl_minor, std::string* failure) {
  const EmbeddedBytes source = embedded_metal_source();
  NSString* text = [[NSString alloc] initWithBytes:source.data
                                            length:source.size
                                          encoding:NSUTF8StringEncoding];
  MTLCompileOptions* options = [[MTLCompileOptions alloc] init];
  // No fast math: it assumes finite values and would fold the kernels' isfinite() checks away.
  if (@available(macOS 15.0, *)) {
    options.mathMode = MTLMathModeSafe;
    options.mathFloatingPointFunctions = MTLMathFloatingPointFunctionsPrecise;
  } else {
    options.fastMathEnabled = NO;
  }
  // Pinned, not the OS's latest: kernels.metal's bfloat guard (__HAVE_BFLOAT__) needs 3.1.
  if (@available(macOS 14.0, *)) {
    if (msl_minor == 1) options.languageVersion = MTLLanguageVersion3_1;
  }
  if (@available(macOS 13.0, *)) {
    if (msl_minor == 0) options.languageVersion = MTLLanguageVersion3_0;
  }
  NSError* error = nil;
  id<MTLLibrary> library = [device newLibraryWithSource:text options:options error:&error];
  if (library == nil) *failure = describe(error);
  return library;
}

bool names_bfloat16_kernel(const std::string& name) {
  return name.find("_bf16") != std::string::npos;
}

}  // namespace

MetalKernelLibrary::MetalKernelLibrary(id<MTLDevice> device) : device_(device) {
  const int minor = msl3_minor();
  if (minor < 0)
    throw NotImplemented("metalsvd metal backend: needs macOS 13 or later (Metal Shading Language "
                         "3.0); this is " +
                         os_version());
  const std::string msl = "Metal Shading Language 3." + std::to_string(minor);
  std::string metallib_failure;
  const EmbeddedBytes metallib = embedded_metallib(minor);
  if (metallib.size > 0) {
    library_ = load_metallib(device, metallib, &metallib_failure);
    origin_ = "precompiled for " + msl;
  }
  if (library_ == nil) {
    std::string compile_failure;
    library_ = compile_source(device, minor, &compile_failure);
    origin_ = "compiled at run time for " + msl;
    if (library_ == nil) {
      std::string message = "metalsvd metal backend: could not build the kernel library for " +
                            utf8(device.name) + " on " + os_version() + " (" + msl +
                            "): " + compile_failure;
      if (!metallib_failure.empty())
        message += "; the precompiled library failed too: " + metallib_failure;
      throw Error(message);
    }
    if (!metallib_failure.empty())
      origin_ += " (the precompiled library failed to load: " + metallib_failure + ")";
  }
  // Decided by the library itself, so it holds whatever kernels.metal's guard decides.
  for (NSString* name in library_.functionNames)
    if (names_bfloat16_kernel(utf8(name))) has_bfloat16_ = true;
}

MetalKernelLibrary& MetalKernelLibrary::for_device(id<MTLDevice> device) {
  static std::mutex mutex;
  // Never freed: pipelines must outlive every command buffer that uses them, to process exit.
  static auto* libraries = new std::unordered_map<uint64_t, MetalKernelLibrary*>();
  std::lock_guard<std::mutex> lock(mutex);
  MetalKernelLibrary*& library = (*libraries)[device.registryID];
  if (library == nullptr) library = new MetalKernelLibrary(device);
  return *library;
}

id<MTLComputePipelineState> MetalKernelLibrary::pipeline(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = pipelines_.find(name);
  if (found != pipelines_.end()) return found->second;

  NSString* function_name = [NSString stringWithUTF8String:name.c_str()];
  id<MTLFunction> function =
      function_name == nil ? nil : [library_ newFunctionWithName:function_name];
  if (function == nil) {
    if (names_bfloat16_kernel(name) && !has_bfloat16_)
      throw NotImplemented("metalsvd metal backend: bfloat16 needs macOS 14 or later (Metal "
                           "Shading Language 3.1); this is " +
                           os_version() + ". Use float16 or float32.");
    throw Error("metalsvd metal backend: no kernel named " + name + " in the library (" + origin_ +
                ")");
  }
  NSError* error = nil;
  id<MTLComputePipelineState> pipeline = [device_ newComputePipelineStateWithFunction:function
                                                                                error:&error];
  if (pipeline == nil)
    throw Error("metalsvd metal backend: could not create the pipeline of " + name + " on " +
                utf8(device_.name) + ": " + describe(error));
  // The kernels' SIMD reductions and shuffles assume 32 lanes.
  if (pipeline.threadExecutionWidth != kernels::kSimdWidth)
    throw Error("metalsvd metal backend: " + name + " runs " +
                std::to_string(pipeline.threadExecutionWidth) + "-wide SIMD groups on " +
                utf8(device_.name) + "; the kernels need " + std::to_string(kernels::kSimdWidth));
  pipelines_.emplace(name, pipeline);
  return pipeline;
}

}  // namespace metalsvd

// Declaration stub of the MPSGraph classes PyTorch's ATen/mps/MPSStream.h names, for
// tools/check-metal. The Metal host code itself uses no MPSGraph API.
#pragma once

#include <MetalPerformanceShaders/MetalPerformanceShaders.h>

@interface MPSGraphObject : NSObject
@end
@interface MPSGraph : MPSGraphObject
@end
@interface MPSGraphExecutionDescriptor : MPSGraphObject
@end
@interface MPSGraphCompilationDescriptor : MPSGraphObject
@end

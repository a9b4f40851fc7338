// Declaration stub of the MetalPerformanceShaders API the Metal host code and PyTorch's MPS
// headers use, for tools/check-metal (no Apple SDK on Linux). Selectors and argument types follow
// Apple's MPSCore / MPSMatrix headers; a selector the real framework does not have must not appear
// here.
#pragma once

#include <Metal/Metal.h>

typedef NS_OPTIONS(uint32_t, MPSDataType) {
  MPSDataTypeInvalid = 0,
  MPSDataTypeFloatBit = 0x10000000,
  MPSDataTypeFloat32 = MPSDataTypeFloatBit | 32,
  MPSDataTypeFloat16 = MPSDataTypeFloatBit | 16,
};

@interface MPSKernel : NSObject
@property(readonly, retain, nonatomic) id<MTLDevice> device;
@end

@interface MPSCommandBuffer : NSObject <MTLCommandBuffer>
@end

@interface MPSMatrixDescriptor : NSObject
+ (instancetype)matrixDescriptorWithRows:(NSUInteger)rows
                                 columns:(NSUInteger)columns
                                matrices:(NSUInteger)matrices
                                rowBytes:(NSUInteger)rowBytes
                             matrixBytes:(NSUInteger)matrixBytes
                                dataType:(MPSDataType)dataType API_AVAILABLE(macos(10.13));
@property(readonly, nonatomic) NSUInteger matrices;
@property(readonly, nonatomic) NSUInteger matrixBytes;
@end

@interface MPSMatrix : NSObject
- (instancetype)initWithBuffer:(id<MTLBuffer>)buffer
                        offset:(NSUInteger)offset
                    descriptor:(MPSMatrixDescriptor*)descriptor API_AVAILABLE(macos(10.15));
@property(readonly, nonatomic) NSUInteger rows;
@property(readonly, nonatomic) NSUInteger columns;
@end

@interface MPSMatrixMultiplication : MPSKernel
@property(readwrite, nonatomic) NSUInteger batchStart;
@property(readwrite, nonatomic) NSUInteger batchSize;
- (instancetype)initWithDevice:(id<MTLDevice>)device
                 transposeLeft:(BOOL)transposeLeft
                transposeRight:(BOOL)transposeRight
                    resultRows:(NSUInteger)resultRows
                 resultColumns:(NSUInteger)resultColumns
               interiorColumns:(NSUInteger)interiorColumns
                         alpha:(double)alpha
                          beta:(double)beta;
- (void)encodeToCommandBuffer:(id<MTLCommandBuffer>)commandBuffer
                   leftMatrix:(MPSMatrix*)leftMatrix
                  rightMatrix:(MPSMatrix*)rightMatrix
                 resultMatrix:(MPSMatrix*)resultMatrix;
@end

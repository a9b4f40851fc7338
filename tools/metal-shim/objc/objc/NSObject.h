// Declaration stub of the Objective-C root class and protocol, for tools/check-metal (no Apple SDK
// on Linux). Only what the Metal host code and the headers it includes use.
#pragma once

#include <stddef.h>
#include <stdint.h>

#if __LP64__
typedef unsigned long NSUInteger;
typedef long NSInteger;
#else
#error "the Metal host code targets 64-bit Apple platforms"
#endif

typedef bool BOOL;  // arm64: BOOL is bool
#define YES true
#define NO false
#define nil nullptr

#define NS_ENUM(_type, _name)                                         \
  enum __attribute__((enum_extensibility(open))) _name : _type _name; \
  enum __attribute__((enum_extensibility(open))) _name : _type
#define NS_OPTIONS(_type, _name)                                                 \
  enum __attribute__((flag_enum, enum_extensibility(open))) _name : _type _name; \
  enum __attribute__((flag_enum, enum_extensibility(open))) _name : _type
#define API_AVAILABLE(...)
#define API_DEPRECATED(...)
#define NS_RETURNS_INNER_POINTER __attribute__((objc_returns_inner_pointer))

@class NSString;

@protocol NSObject
- (BOOL)isEqual:(id)object;
@property(readonly) NSUInteger hash;
@property(readonly, copy) NSString* description;
@end

__attribute__((objc_root_class))
@interface NSObject<NSObject>
+ (instancetype)alloc;
+ (instancetype)new;
- (instancetype)init;
@end

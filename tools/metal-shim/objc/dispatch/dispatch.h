// Declaration stub of the libdispatch API the Metal host code uses, for tools/check-metal. Under
// Objective-C, dispatch objects are Objective-C objects (OS_OBJECT_USE_OBJC), as on macOS.
#pragma once

#include <objc/NSObject.h>

@protocol OS_dispatch_object <NSObject>
@end
@protocol OS_dispatch_queue <OS_dispatch_object>
@end
@protocol OS_dispatch_data <OS_dispatch_object>
@end
typedef NSObject<OS_dispatch_queue>* dispatch_queue_t;
typedef NSObject<OS_dispatch_data>* dispatch_data_t;

typedef void (^dispatch_block_t)(void);

extern "C" {
void dispatch_sync(dispatch_queue_t queue, __attribute__((noescape)) dispatch_block_t block);
dispatch_data_t dispatch_data_create(const void* buffer, size_t size, dispatch_queue_t queue,
                                     dispatch_block_t destructor);
}

// Copies the bytes into the data object.
#define DISPATCH_DATA_DESTRUCTOR_DEFAULT nullptr

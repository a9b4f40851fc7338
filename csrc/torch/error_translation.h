// Core errors as the Python exception types a user expects.
#pragma once

#include <c10/util/Exception.h>

#include "core/errors.h"

namespace metalsvd {

// Runs `body`: NotImplemented -> NotImplementedError, InvalidArgument -> ValueError, any
// other Error -> RuntimeError.
template <typename Body>
void translating_errors(Body body) {
  try {
    body();
  } catch (const NotImplemented& e) {
    TORCH_CHECK_NOT_IMPLEMENTED(false, e.what());
  } catch (const InvalidArgument& e) {
    TORCH_CHECK_VALUE(false, e.what());
  } catch (const Error& e) {
    TORCH_CHECK(false, e.what());
  }
}

}  // namespace metalsvd

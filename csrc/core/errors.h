// Errors raised by the core and the backends; the torch layer maps each to a Python type.
#pragma once

#include <stdexcept>
#include <string>

namespace metalsvd {

// Something failed while running (Python RuntimeError).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller error: wrong dtype, shape or argument (Python ValueError).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A valid request this build cannot serve yet (Python NotImplementedError).
class NotImplemented : public Error {
 public:
  using Error::Error;
};

}  // namespace metalsvd

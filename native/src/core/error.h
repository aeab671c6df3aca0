// The engine's one exception type: a stable code for callers (the addon turns it into a
// JS error with `code`), and a message for people.
// defines: ErrorCode, EngineError, error_code_name, DIMBA_CHECK
#pragma once
#include <stdexcept>
#include <string>

namespace dimba {

enum class ErrorCode {
  InvalidArgument,   // a caller passed something out of range
  BadFile,           // a file is truncated, malformed or lies about its contents
  UnsupportedFormat, // a well-formed file we do not read (unknown dtype, pickle global, ...)
  ModelMismatch,     // missing, unexpected or mis-shaped tensors for a config
  Io,                // the operating system refused (open, read, write, mmap)
  OutOfMemory,
  Cancelled,
  BackendUnavailable,  // the backend asked for is not in this build or has no device
  Internal,          // a bug in the engine
};

inline const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::InvalidArgument: return "E_INVALID_ARGUMENT";
    case ErrorCode::BadFile: return "E_BAD_FILE";
    case ErrorCode::UnsupportedFormat: return "E_UNSUPPORTED_FORMAT";
    case ErrorCode::ModelMismatch: return "E_MODEL_MISMATCH";
    case ErrorCode::Io: return "E_IO";
    case ErrorCode::OutOfMemory: return "E_OUT_OF_MEMORY";
    case ErrorCode::Cancelled: return "E_CANCELLED";
    case ErrorCode::BackendUnavailable: return "E_BACKEND_UNAVAILABLE";
    case ErrorCode::Internal: return "E_INTERNAL";
  }
  return "E_INTERNAL";
}

struct EngineError : std::runtime_error {
  ErrorCode code;
  EngineError(ErrorCode c, const std::string& msg) : std::runtime_error(msg), code(c) {}
};

}  // namespace dimba

// For engine bugs only (broken invariants), never for bad input: bad input throws EngineError
// with a code from where it is detected.
#define DIMBA_CHECK(cond)                                                                  \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::dimba::EngineError(::dimba::ErrorCode::Internal,                             \
                                 std::string(__FILE__ ":") + std::to_string(__LINE__) +    \
                                     ": check failed: " #cond);                            \
  } while (0)

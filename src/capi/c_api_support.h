// What the C ABI's files share: strings handed to the caller, and the guard
// that turns a Status or an escaped exception into a code and a message.
#ifndef FLOPSMETER_CAPI_C_API_SUPPORT_H_
#define FLOPSMETER_CAPI_C_API_SUPPORT_H_

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "flopsmeter/c_api.h"
#include "flopsmeter/status.h"

namespace flopsmeter::capi {

// A malloc'd copy the caller frees with fm_free(); NULL when out of memory.
inline char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

inline fm_status fail(const Status& s, char** error) {
  if (error != nullptr) *error = copy_string(s.message());
  return static_cast<fm_status>(s.code());
}

// Runs `body`, turning a Status or an escaped exception (allocation failure,
// a library bug) into a code and message: nothing crosses the C boundary.
template <typename Body>
fm_status guarded(char** error, Body body) {
  if (error != nullptr) *error = nullptr;
  try {
    Status s = body();
    return s.ok() ? FM_OK : fail(s, error);
  } catch (const std::bad_alloc&) {
    return fail(Status::Internal("out of memory"), error);
  } catch (const std::exception& e) {
    return fail(Status::Internal(std::string("unexpected error: ") + e.what()), error);
  }
}

}  // namespace flopsmeter::capi

#endif  // FLOPSMETER_CAPI_C_API_SUPPORT_H_

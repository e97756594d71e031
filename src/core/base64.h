// Base64 (RFC 4648 section 4, with padding): how HTTP headers carry
// digests (Content-MD5, x-amz-checksum-sha256). Pure.
#ifndef FLOPSMETER_CORE_BASE64_H_
#define FLOPSMETER_CORE_BASE64_H_

#include <string>
#include <string_view>

namespace flopsmeter {

std::string base64_encoded(std::string_view bytes);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_BASE64_H_

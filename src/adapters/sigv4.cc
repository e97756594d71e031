#include "adapters/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "adapters/sha256.h"
#include "adapters/signing_key.h"  // to_hex

namespace flopsmeter {
namespace {

std::string hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Leading and trailing spaces off, inner runs of spaces as one.
std::string trimmed_value(const std::string& value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Parameters sorted by name, then value; "name" alone is "name=".
std::string canonical_query(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start < query.size()) {
    const size_t end = std::min(query.find('&', start), query.size());
    const std::string param = query.substr(start, end - start);
    const size_t equals = param.find('=');
    if (!param.empty()) {
      params.emplace_back(param.substr(0, equals), equals == std::string::npos ? "" : param.substr(equals + 1));
    }
    start = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

}  // namespace

SigV4Signature sigv4_sign(const SigV4Request& request, const AwsCredentials& credentials, const std::string& region,
                          const std::string& service, const std::string& amz_date) {
  std::map<std::string, std::string> headers;  // by lower-case name: AWS's order
  for (const auto& [name, value] : request.headers) {
    std::string& joined = headers[lower(name)];
    joined += (joined.empty() ? "" : ",") + trimmed_value(value);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  SigV4Signature s;
  s.canonical_request = request.method + "\n" + (request.path.empty() ? "/" : request.path) + "\n" +
                        canonical_query(request.query) + "\n" + canonical_headers + "\n" + signed_headers + "\n" +
                        request.payload_sha256;
  const std::string scope = amz_date.substr(0, 8) + "/" + region + "/" + service + "/aws4_request";
  s.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(s.canonical_request);
  std::string key = "AWS4" + credentials.secret_access_key;
  for (const std::string& part : {amz_date.substr(0, 8), region, service, std::string("aws4_request")}) {
    key = hmac_sha256(key, part);
  }
  s.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                    ", SignedHeaders=" + signed_headers + ", Signature=" + to_hex(hmac_sha256(key, s.string_to_sign));
  return s;
}

}  // namespace flopsmeter

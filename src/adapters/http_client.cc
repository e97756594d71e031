#include "adapters/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cmath>
#include <ctime>
#include <memory>
#include <mutex>

#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;
// The slowest upload a request's bound allows for: an attempt may take its
// timeout plus its body's size at this speed. A transfer that stalls fails
// sooner, after its timeout without a byte moving.
constexpr double kSlowestUploadBytesPerSecond = 256 << 10;

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Received {
  HttpResponse* response;
  uint64_t max_body;
  size_t header_bytes = 0;
  bool body_too_long = false;
  bool headers_too_long = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  const size_t n = size * count;
  if (r->response->body.size() + n > r->max_body) {
    r->body_too_long = true;
    return 0;  // libcurl ends the transfer
  }
  r->response->body.append(data, n);
  return n;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  const size_t n = size * count;
  r->header_bytes += n;
  if (r->header_bytes > kMaxHeaderBytes) {
    r->headers_too_long = true;
    return 0;
  }
  const std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    r->response->headers.clear();  // a new response (after 100 Continue): its headers only
    return n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    r->response->headers[lower(trimmed(line.substr(0, colon)))] = std::string(trimmed(line.substr(colon + 1)));
  }
  return n;
}

HttpFailure failure_of(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return HttpFailure::kConnect;
    case CURLE_OPERATION_TIMEDOUT: return HttpFailure::kTimeout;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return HttpFailure::kConnectionLost;
    default: return HttpFailure::kOther;
  }
}

bool header_safe(std::string_view text) { return text.find_first_of("\r\n") == std::string_view::npos; }

// The options that make `request` on `curl`, with the header list kept alive in `headers`.
Status configure(CURL* curl, const HttpRequest& request, std::unique_ptr<curl_slist, ListDeleter>& headers) {
  auto add = [&](const std::string& line) -> Status {
    curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
    if (grown == nullptr) return Status::Internal("out of memory");
    headers.release();
    headers.reset(grown);
    return Status();
  };
  for (const auto& [name, value] : request.headers) {
    if (!header_safe(name) || !header_safe(value) || name.empty()) {
      return Status::InvalidArgument("HTTP header '" + name + "' holds a line break");
    }
    FM_RETURN_IF_ERROR(add(name + ": " + value));
  }
  // No "Name:" entries to suppress libcurl's own headers (Expect, its form
  // Content-Type): a signed request must send exactly what was signed.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (request.method == "PUT" || request.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }
  const long stall_s = std::max(1L, static_cast<long>(std::ceil(request.timeout_s)));
  const double total_s = request.max_duration_s > 0
                             ? request.max_duration_s
                             : request.timeout_s + static_cast<double>(request.body.size()) / kSlowestUploadBytesPerSecond;
  const double connect_s = std::min(request.connect_timeout_s, request.timeout_s);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_s * 1000));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(total_s * 1000));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_s);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "flopsmeter/" FLOPSMETER_VERSION_STRING);
  if (!request.use_proxy) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  return Status();
}

}  // namespace

std::optional<double> HttpResponse::retry_after_s() const {
  const auto it = headers.find("retry-after");
  if (it == headers.end() || it->second.empty()) return std::nullopt;
  const std::string& v = it->second;
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    return v.size() > 6 ? 1e6 : std::stod(v);  // far beyond any wait a caller accepts
  }
  const time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

Result<HttpResponse> http_send(const HttpRequest& request) {
  static std::once_flag once;
  static CURLcode global = CURLE_OK;
  std::call_once(once, [] { global = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global != CURLE_OK) return Status::Internal(std::string("libcurl: ") + curl_easy_strerror(global));
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return Status::Internal("libcurl: no handle (out of memory)");
  std::unique_ptr<curl_slist, ListDeleter> headers;
  FM_RETURN_IF_ERROR(configure(curl.get(), request, headers));
  HttpResponse response;
  Received received{&response, request.max_response_bytes};
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &received);
  const CURLcode code = curl_easy_perform(curl.get());
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    return Status::InvalidArgument("cannot request '" + request.url + "': " + curl_easy_strerror(code));
  }
  if (code != CURLE_OK) {
    response.failure = failure_of(code);
    response.error = received.body_too_long      ? "the answer is longer than " + std::to_string(request.max_response_bytes) + " bytes"
                     : received.headers_too_long ? "the answer's headers are longer than 64 KiB"
                     : *error != '\0'            ? std::string(error)
                                                 : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      response.error = "no answer within " + std::to_string(static_cast<long>(std::ceil(request.timeout_s))) +
                       " s (" + response.error + ")";
    }
    return response;
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

namespace {

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlText {
  char* text = nullptr;
  ~CurlText() { curl_free(text); }
};

Result<std::unique_ptr<CURLU, UrlDeleter>> parsed_url(const std::string& url) {
  std::unique_ptr<CURLU, UrlDeleter> handle(curl_url());
  if (!handle) return Status::Internal("libcurl: no URL handle (out of memory)");
  if (curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return Status::InvalidArgument("'" + url + "' is not a URL");
  }
  return handle;
}

Result<std::string> url_part(CURLU* url, CURLUPart part, unsigned int flags) {
  CurlText text;
  if (curl_url_get(url, part, &text.text, flags) != CURLUE_OK || text.text == nullptr) {
    return Status::InvalidArgument("a URL without its scheme, host or port");
  }
  return std::string(text.text);
}

}  // namespace

Result<std::string> resolved_url(const std::string& base, const std::string& reference) {
  FM_ASSIGN_OR_RETURN(auto url, parsed_url(base));
  if (!header_safe(reference) || curl_url_set(url.get(), CURLUPART_URL, reference.c_str(), 0) != CURLUE_OK) {
    return Status::InvalidArgument("'" + base + "' redirected to a malformed location");
  }
  FM_ASSIGN_OR_RETURN(std::string scheme, url_part(url.get(), CURLUPART_SCHEME, 0));
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument("'" + base + "' redirected to a " + scheme + " URL (only http and https are followed)");
  }
  return url_part(url.get(), CURLUPART_URL, 0);
}

Result<std::string> url_origin(const std::string& url) {
  FM_ASSIGN_OR_RETURN(auto parsed, parsed_url(url));
  FM_ASSIGN_OR_RETURN(std::string scheme, url_part(parsed.get(), CURLUPART_SCHEME, 0));
  FM_ASSIGN_OR_RETURN(std::string host, url_part(parsed.get(), CURLUPART_HOST, 0));
  FM_ASSIGN_OR_RETURN(std::string port, url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT));
  return lower(scheme) + "://" + lower(host) + ":" + port;
}

std::string uri_encoded(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace flopsmeter

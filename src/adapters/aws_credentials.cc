#include "adapters/aws_credentials.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/files.h"
#include "adapters/http_client.h"
#include "core/ini_text.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

constexpr uint64_t kMaxSharedFileBytes = 1 << 20;
constexpr uint64_t kMaxEndpointAnswerBytes = 64 << 10;
constexpr const char* kInstanceMetadata = "http://169.254.169.254";
constexpr const char* kInstanceMetadataIpv6 = "http://[fd00:ec2::254]";
// The profile settings that mean "credentials come from elsewhere", which
// flopsmeter does not follow.
constexpr const char* kIndirectSettings[] = {"role_arn", "sso_session", "sso_start_url", "credential_process",
                                             "web_identity_token_file"};

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// A path from a variable or the default under $HOME, "~/" expanded as the SDKs do.
std::string shared_file_path(const char* variable, const char* under_home) {
  std::string path = env(variable) != nullptr ? env(variable) : std::string("~/") + under_home;
  if (path.starts_with("~/")) path = std::string(env("HOME") != nullptr ? env("HOME") : "") + path.substr(1);
  return path;
}

// A shared file's sections; none when there is no file.
Result<IniSections> read_shared_file(const std::string& path) {
  Result<std::string> text = read_file(path, kMaxSharedFileBytes);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) return IniSections();
  if (!text.ok()) return text.status().WithContext("the AWS shared file");
  return parse_ini_text(*text, printable_text(path));
}

struct SharedFiles {
  std::string credentials_path, config_path;
  IniSections credentials, config;
};

Result<SharedFiles> read_shared_files() {
  SharedFiles f;
  f.credentials_path = shared_file_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
  f.config_path = shared_file_path("AWS_CONFIG_FILE", ".aws/config");
  FM_ASSIGN_OR_RETURN(f.credentials, read_shared_file(f.credentials_path));
  FM_ASSIGN_OR_RETURN(f.config, read_shared_file(f.config_path));
  return f;
}

// The profile's section in each file, and whether either has one.
struct ProfileSections {
  const std::map<std::string, std::string>* credentials = nullptr;
  const std::map<std::string, std::string>* config = nullptr;
};
ProfileSections profile_sections(const SharedFiles& files, const std::string& profile) {
  ProfileSections s;
  if (auto it = files.credentials.find(profile); it != files.credentials.end()) s.credentials = &it->second;
  for (const std::string& name : {"profile " + profile, profile == "default" ? profile : std::string()}) {
    if (auto it = files.config.find(name); !name.empty() && it != files.config.end()) s.config = &it->second;
  }
  return s;
}

Result<std::optional<AwsCredentials>> from_environment(std::vector<std::string>& tried) {
  const char* id = env("AWS_ACCESS_KEY_ID");
  const char* secret = env("AWS_SECRET_ACCESS_KEY");
  if (id == nullptr && secret == nullptr) {
    tried.push_back("the environment (AWS_ACCESS_KEY_ID is not set)");
    return std::optional<AwsCredentials>();
  }
  if (id == nullptr || secret == nullptr) {
    return Status::InvalidArgument(std::string(id == nullptr ? "AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID"
                                                             : "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY") +
                                   ": set both, or neither");
  }
  const char* token = env("AWS_SESSION_TOKEN");
  return std::optional<AwsCredentials>(AwsCredentials{id, secret, token != nullptr ? token : "", "the environment"});
}

// Keys from one file's section of the profile.
Result<std::optional<AwsCredentials>> section_keys(const std::map<std::string, std::string>& section,
                                                   const std::string& profile, const std::string& path) {
  const auto get = [&](const char* key) {
    const auto it = section.find(key);
    return it == section.end() ? std::string() : it->second;
  };
  const std::string where = "profile '" + printable_text(profile) + "' (" + printable_text(path) + ")";
  if (get("aws_access_key_id").empty() && get("aws_secret_access_key").empty()) return std::optional<AwsCredentials>();
  if (get("aws_access_key_id").empty() || get("aws_secret_access_key").empty()) {
    return Status::InvalidArgument(where + " has only one of aws_access_key_id and aws_secret_access_key");
  }
  return std::optional<AwsCredentials>(
      AwsCredentials{get("aws_access_key_id"), get("aws_secret_access_key"), get("aws_session_token"), where});
}

Result<std::optional<AwsCredentials>> from_profile(const std::string& given, std::vector<std::string>& tried) {
  const std::string profile = aws_profile_name(given);
  const bool named = !given.empty() || env("AWS_PROFILE") != nullptr;
  FM_ASSIGN_OR_RETURN(SharedFiles files, read_shared_files());
  const ProfileSections s = profile_sections(files, profile);
  if (s.credentials == nullptr && s.config == nullptr) {
    const std::string missing = "profile '" + printable_text(profile) + "' is in neither " +
                                printable_text(files.credentials_path) + " nor " + printable_text(files.config_path);
    if (named) return Status::NotFound("AWS " + missing);
    tried.push_back(missing);
    return std::optional<AwsCredentials>();
  }
  for (const auto& [section, path] : {std::pair{s.credentials, files.credentials_path}, {s.config, files.config_path}}) {
    if (section == nullptr) continue;
    FM_ASSIGN_OR_RETURN(std::optional<AwsCredentials> keys, section_keys(*section, profile, path));
    if (keys) return keys;
    for (const char* setting : kIndirectSettings) {
      if (section->count(setting) == 0) continue;
      return Status::Unsupported("profile '" + printable_text(profile) + "' (" + printable_text(path) +
                                 ") gets its credentials through " + setting +
                                 ", which flopsmeter does not follow; export them into the environment "
                                 "(aws configure export-credentials --profile " + printable_text(profile) +
                                 " --format env)");
    }
  }
  tried.push_back("profile '" + printable_text(profile) + "' (it has no aws_access_key_id)");
  return std::optional<AwsCredentials>();
}

// Credentials in the JSON a container or instance endpoint answers with.
Result<AwsCredentials> endpoint_keys(const HttpResponse& answer, const std::string& endpoint) {
  const nlohmann::json j = nlohmann::json::parse(answer.body, nullptr, false);
  const auto text = [&](const char* key) {
    const nlohmann::json v = j.is_object() ? j.value(key, nlohmann::json()) : nlohmann::json();
    return v.is_string() ? v.get<std::string>() : std::string();
  };
  if (!j.is_object()) return Status::ParseError(endpoint + ": the answer is not a JSON object of credentials");
  if (j.contains("Code") && text("Code") != "Success") {
    return Status::InvalidArgument(endpoint + ": the endpoint answers Code '" + printable_text(text("Code")) +
                                   "', not Success");
  }
  if (text("AccessKeyId").empty() || text("SecretAccessKey").empty()) {
    return Status::ParseError(endpoint + ": the answer has no AccessKeyId and SecretAccessKey");
  }
  return AwsCredentials{text("AccessKeyId"), text("SecretAccessKey"), text("Token"), endpoint};
}

HttpRequest metadata_request(const std::string& method, const std::string& url, const CredentialEndpoints& e) {
  HttpRequest r;
  r.method = method;
  r.url = url;
  r.connect_timeout_s = e.timeout_s;
  r.timeout_s = e.timeout_s;
  r.max_response_bytes = kMaxEndpointAnswerBytes;
  r.use_proxy = false;
  return r;
}

// A plain-http full URI must stay on this host (or the link-local ECS and
// EKS addresses), as the SDKs require: credentials do not cross a network
// in clear text.
bool allowed_full_uri(const std::string& uri) {
  if (uri.starts_with("https://")) return true;
  if (!uri.starts_with("http://")) return false;
  const std::string rest = uri.substr(7);
  const std::string host = rest.starts_with("[") ? rest.substr(0, rest.find(']') + 1) : rest.substr(0, rest.find_first_of(":/"));
  return host.starts_with("127.") || host == "localhost" || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

Result<std::string> container_token() {
  if (const char* file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    FM_ASSIGN_OR_RETURN(std::string token, read_file(file, kMaxEndpointAnswerBytes));
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    return token;
  }
  return std::string(env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != nullptr ? env("AWS_CONTAINER_AUTHORIZATION_TOKEN") : "");
}

Result<std::optional<AwsCredentials>> from_container(const CredentialEndpoints& e, std::vector<std::string>& tried) {
  std::string url;
  if (const char* relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    if (*relative != '/') return Status::InvalidArgument("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
    url = e.container_host + relative;
  } else if (const char* full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    url = full;
    if (!allowed_full_uri(url)) {
      return Status::InvalidArgument("AWS_CONTAINER_CREDENTIALS_FULL_URI: a plain-http endpoint must be on this "
                                     "host (loopback) or the ECS/EKS link-local address; use https otherwise");
    }
  } else {
    tried.push_back("the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set)");
    return std::optional<AwsCredentials>();
  }
  const std::string where = "the container credentials endpoint " + printable_text(url);
  HttpRequest r = metadata_request("GET", url, e);
  FM_ASSIGN_OR_RETURN(std::string token, container_token());
  if (!token.empty()) r.headers.emplace_back("Authorization", token);
  FM_ASSIGN_OR_RETURN(HttpResponse answer, http_send(r));
  if (answer.failure != HttpFailure::kNone) return Status::IoError(where + ": " + printable_text(answer.error));
  if (answer.status != 200) {
    return Status::InvalidArgument(where + ": HTTP " + std::to_string(answer.status) +
                                   (answer.status == 401 || answer.status == 403 ? " (the authorization token is refused)" : ""));
  }
  FM_ASSIGN_OR_RETURN(AwsCredentials keys, endpoint_keys(answer, where));
  return std::optional<AwsCredentials>(std::move(keys));
}

bool plain_role_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("+=,.@_-").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

Result<std::optional<AwsCredentials>> from_instance_metadata(const CredentialEndpoints& e,
                                                             std::vector<std::string>& tried) {
  const char* disabled = env("AWS_EC2_METADATA_DISABLED");
  if (disabled != nullptr && (std::string(disabled) == "true" || std::string(disabled) == "TRUE")) {
    tried.push_back("the EC2 instance metadata service (AWS_EC2_METADATA_DISABLED=true)");
    return std::optional<AwsCredentials>();
  }
  const char* mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
  std::string base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT") != nullptr ? env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                     : mode != nullptr && std::string(mode) == "IPv6" ? kInstanceMetadataIpv6
                                                                       : kInstanceMetadata;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string where = "the EC2 instance metadata service at " + printable_text(base);
  const auto skip = [&](const std::string& why) {
    tried.push_back(where + " (" + why + ")");
    return std::optional<AwsCredentials>();
  };
  HttpRequest token_request = metadata_request("PUT", base + "/latest/api/token", e);
  token_request.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
  FM_ASSIGN_OR_RETURN(HttpResponse token, http_send(token_request));
  if (token.failure != HttpFailure::kNone) return skip("no answer: " + printable_text(token.error));
  if (token.status != 200) return skip("HTTP " + std::to_string(token.status) + " to the IMDSv2 token request");
  if (token.body.empty() || token.body.find_first_of("\r\n") != std::string::npos) {
    return Status::ParseError(where + ": the IMDSv2 token is not a single line");
  }
  const auto get = [&](const std::string& path) {
    HttpRequest r = metadata_request("GET", base + "/latest/meta-data/iam/security-credentials/" + path, e);
    r.headers.emplace_back("X-aws-ec2-metadata-token", token.body);
    return http_send(r);
  };
  FM_ASSIGN_OR_RETURN(HttpResponse roles, get(""));
  if (roles.failure != HttpFailure::kNone) return Status::IoError(where + ": " + printable_text(roles.error));
  if (roles.status == 404) return skip("no IAM role is attached to the instance");
  const std::string role = roles.body.substr(0, roles.body.find('\n'));
  if (roles.status != 200 || !plain_role_name(role)) {
    return Status::ParseError(where + ": HTTP " + std::to_string(roles.status) + " without an IAM role's name");
  }
  FM_ASSIGN_OR_RETURN(HttpResponse keys, get(role));
  if (keys.failure != HttpFailure::kNone) return Status::IoError(where + ": " + printable_text(keys.error));
  if (keys.status != 200) return Status::IoError(where + ": HTTP " + std::to_string(keys.status) + " for role " + role);
  FM_ASSIGN_OR_RETURN(AwsCredentials found, endpoint_keys(keys, where + ", role " + role));
  return std::optional<AwsCredentials>(std::move(found));
}

}  // namespace

std::string aws_profile_name(const std::string& given) {
  if (!given.empty()) return given;
  return env("AWS_PROFILE") != nullptr ? env("AWS_PROFILE") : "default";
}

Result<std::map<std::string, std::string>> aws_profile_settings(const std::string& profile) {
  FM_ASSIGN_OR_RETURN(SharedFiles files, read_shared_files());
  const ProfileSections s = profile_sections(files, profile);
  std::map<std::string, std::string> settings;
  if (s.config != nullptr) settings = *s.config;
  if (s.credentials != nullptr) {
    for (const auto& [key, value] : *s.credentials) settings[key] = value;
  }
  return settings;
}

Result<AwsCredentials> resolve_aws_credentials(const std::string& profile, const CredentialEndpoints& endpoints) {
  std::vector<std::string> tried;
  FM_ASSIGN_OR_RETURN(std::optional<AwsCredentials> found, from_environment(tried));
  if (found) return *found;
  FM_ASSIGN_OR_RETURN(found, from_profile(profile, tried));
  if (found) return *found;
  FM_ASSIGN_OR_RETURN(found, from_container(endpoints, tried));
  if (found) return *found;
  FM_ASSIGN_OR_RETURN(found, from_instance_metadata(endpoints, tried));
  if (found) return *found;
  std::string list;
  for (const std::string& t : tried) list += (list.empty() ? "" : "; ") + t;
  return Status::NotFound("no AWS credentials found; tried " + list);
}

}  // namespace flopsmeter

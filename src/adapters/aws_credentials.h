// AWS credentials and profile settings, found where the AWS SDKs and CLI
// look, in their order:
//
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//      AWS_SESSION_TOKEN;
//   2. the profile (the one named, else AWS_PROFILE, else "default") in
//      the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//      ~/.aws/credentials), then the shared config file (AWS_CONFIG_FILE,
//      else ~/.aws/config, whose sections read [profile NAME]);
//   3. the container endpoint (ECS, EKS pod identity):
//      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2,
//      or AWS_CONTAINER_CREDENTIALS_FULL_URI, with the token of
//      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN;
//   4. the EC2 instance metadata service, IMDSv2 (a session token first),
//      at AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254,
//      unless AWS_EC2_METADATA_DISABLED=true; one second per request.
//
// A profile named on purpose (an option, AWS_PROFILE) must exist, and one
// that gets its credentials some other way (role_arn, sso_session,
// credential_process, web_identity_token_file) is refused with the command
// that exports its keys, not skipped. The shared files are read as every
// input is: regular files (a symbolic link is followed to one), at most
// 1 MiB; a FIFO, a device or a huge file is refused, naming the file.
//
// Secrets never leave in a message: errors name files, lines, variables and
// endpoints, never a value read from them.
#ifndef FLOPSMETER_ADAPTERS_AWS_CREDENTIALS_H_
#define FLOPSMETER_ADAPTERS_AWS_CREDENTIALS_H_

#include <map>
#include <string>

#include "adapters/sigv4.h"  // AwsCredentials
#include "flopsmeter/status.h"

namespace flopsmeter {

// Where the chain asks beyond the environment and the files. The defaults
// are AWS's link-local addresses; tests point them at a loopback server.
struct CredentialEndpoints {
  std::string container_host = "http://169.254.170.2";  // under which RELATIVE_URI is
  double timeout_s = 1;  // per metadata request
};

// The profile's name: `given`, else AWS_PROFILE, else "default".
std::string aws_profile_name(const std::string& given);

// The profile's settings from both shared files (the credentials file's
// win), keys lower-cased, nested ones as "s3.addressing_style"; empty when
// neither file has it. Errors: an unreadable or malformed file.
Result<std::map<std::string, std::string>> aws_profile_settings(const std::string& profile);

// The first credentials the chain finds. Errors: NotFound listing what was
// tried when none is found; InvalidArgument or Unsupported for a link
// that is misconfigured (half a key pair, a missing named profile, a role
// profile), which stops the chain as it stops the SDKs'.
Result<AwsCredentials> resolve_aws_credentials(const std::string& profile,
                                               const CredentialEndpoints& endpoints = {});

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_AWS_CREDENTIALS_H_

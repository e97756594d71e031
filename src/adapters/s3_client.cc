#include "adapters/s3_client.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "adapters/signing_key.h"  // to_hex
#include "core/base64.h"
#include "core/json_doc.h"  // printable_text
#include "core/xml_text.h"

namespace flopsmeter {
namespace {

constexpr uint64_t kMaxParts = 10000;

AwsError read_s3_error(const HttpResponse& answer) {
  AwsError e;
  e.code = xml_element_text(answer.body, "Code").value_or("");
  e.message = xml_element_text(answer.body, "Message").value_or("");
  e.passing = e.code == "SlowDown" || e.code == "InternalError" || e.code == "RequestTimeout" ||
              e.code == "ServiceUnavailable";
  return e;
}

std::string http_url(const S3Bucket& b, const std::string& key, const std::string& query) {
  const std::string path = "/" + uri_encoded(key, true) + query;
  if (b.path_style) return b.endpoint + "/" + uri_encoded(b.bucket, false) + path;
  const size_t host = b.endpoint.find("://") + 3;
  return b.endpoint.substr(0, host) + b.bucket + "." + b.endpoint.substr(host) + path;
}

std::string unquoted(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

std::string header(const HttpResponse& r, const char* name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

// A request carrying `body`, with its MD5 and SHA-256.
HttpRequest body_request(const char* method, std::string url, std::string_view body, const std::string& md5) {
  HttpRequest r;
  r.method = method;
  r.url = std::move(url);
  r.body = body;
  r.headers = {{"Content-MD5", base64_encoded(md5)}, {"x-amz-content-sha256", sha256_hex(body)}};
  return r;
}

void add_encryption(HttpRequest& r, const S3Encryption& e) {
  if (e.mode == ServerSideEncryption::kNone) return;
  r.headers.emplace_back("x-amz-server-side-encryption", e.mode == ServerSideEncryption::kKms ? "aws:kms" : "AES256");
  if (e.mode == ServerSideEncryption::kKms && !e.kms_key_id.empty()) {
    r.headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", e.kms_key_id);
  }
}

Result<AwsAnswer> call(const AwsService& s, HttpRequest r, bool idempotent, const std::string& what) {
  FM_ASSIGN_OR_RETURN(AwsAnswer answer, aws_call(s, std::move(r), idempotent, read_s3_error, what));
  if (answer.error) return aws_error_status(s, what, answer);
  return answer;
}

// How the answer to a PUT of a body with digest `md5` (and, for one PUT,
// SHA-256 checksum `sha256_b64`) confirms it; an error when it contradicts it.
Result<std::string> confirmed(const HttpResponse& r, const std::string& what, const S3Encryption& e,
                              const std::string& md5, const std::string& sha256_b64) {
  const std::string applied = header(r, "x-amz-server-side-encryption");
  const char* asked = e.mode == ServerSideEncryption::kKms ? "aws:kms" : "AES256";
  if (e.mode != ServerSideEncryption::kNone && !applied.empty() && applied != asked) {
    return Status::IoError(what + ": the store applied encryption '" + printable_text(applied) + "', not " + asked);
  }
  const std::string checksum = header(r, "x-amz-checksum-sha256");
  if (!checksum.empty() && !sha256_b64.empty()) {
    if (checksum != sha256_b64) {
      return Status::IoError(what + ": the store's SHA-256 checksum " + printable_text(checksum) +
                             " is not that of the bytes sent (" + sha256_b64 + "): not confirmed");
    }
    return std::string("the store's SHA-256 checksum matches");
  }
  const std::string etag = header(r, "etag");
  if (etag.empty()) return Status::IoError(what + ": the store answered without an ETag: not confirmed");
  if (e.mode == ServerSideEncryption::kKms) return std::string("Content-MD5, checked by the store");
  if (unquoted(etag) != to_hex(md5)) {
    return Status::IoError(what + ": the store answered ETag " + printable_text(etag) + ", not the MD5 of the bytes sent (\"" +
                           to_hex(md5) + "\"): not confirmed");
  }
  return std::string("ETag is the MD5 of the bytes sent");
}

// What the store confirmed, once its identifiers are plain: they go into
// reports and the ledger, which never forgets.
Result<S3Stored> identified(S3Stored stored) {
  for (const std::string* id : {&stored.etag, &stored.version_id}) {
    const bool plain = id->size() <= 1024 && std::all_of(id->begin(), id->end(), [](char c) { return c > ' ' && c < 127; });
    if (!plain) return Status::IoError(stored.url + ": the store answered an ETag or version id that is not plain text");
  }
  return stored;
}

// A multipart upload's parts, sent from the file one at a time.
class MultipartUpload {
 public:
  MultipartUpload(const AwsService& s, const S3Bucket& b, const S3Object& o, const S3Encryption& e)
      : s_(s), b_(b), o_(o), e_(e), what_(s3_url(b, o.key)) {}

  Result<S3Stored> run(const InputFile& file) {
    FM_RETURN_IF_ERROR(create());
    Result<S3Stored> stored = send(file);
    if (stored.ok()) return stored;
    // Parts left in the store cost money and are invisible: removed.
    Result<AwsAnswer> aborted = call(s_, plain("DELETE", "?uploadId=" + uri_encoded(upload_id_, false)), true, what_);
    if (aborted.ok()) return stored.status();
    return stored.status().WithContext("the multipart upload " + printable_text(upload_id_) +
                                       " could not be aborted either (" + aborted.status().message() +
                                       "); a bucket lifecycle rule removes it");
  }

 private:
  HttpRequest plain(const char* method, const std::string& query) const {
    HttpRequest r;
    r.method = method;
    r.url = http_url(b_, o_.key, query);
    r.headers = {{"x-amz-content-sha256", sha256_hex("")}};
    return r;
  }

  Status create() {
    HttpRequest r = plain("POST", "?uploads=");
    if (!o_.content_type.empty()) r.headers.emplace_back("Content-Type", o_.content_type);
    add_encryption(r, e_);
    // Not safe to repeat: each repeat would start another upload.
    FM_ASSIGN_OR_RETURN(AwsAnswer a, call(s_, std::move(r), false, what_));
    upload_id_ = xml_element_text(a.response.body, "UploadId").value_or("");
    if (upload_id_.empty()) return Status::IoError(what_ + ": the store started a multipart upload without an UploadId");
    return Status();
  }

  Result<S3Stored> send(const InputFile& file) {
    const uint64_t part_bytes = std::max(kMultipartThreshold, (file.size() + kMaxParts - 1) / kMaxParts);
    StreamingDigest whole_md5 = StreamingDigest::Md5(), whole_sha256 = StreamingDigest::Sha256();
    std::string part_md5s, manifest = "<CompleteMultipartUpload>";
    uint32_t part = 0;
    for (uint64_t offset = 0; offset < file.size(); offset += part_bytes) {
      FM_ASSIGN_OR_RETURN(std::string data, file.read_at(offset, std::min(part_bytes, file.size() - offset)));
      ++part;
      const std::string md5 = md5_bytes(data);
      const std::string query = "?partNumber=" + std::to_string(part) + "&uploadId=" + uri_encoded(upload_id_, false);
      const std::string what = what_ + " part " + std::to_string(part);
      HttpRequest r = body_request("PUT", http_url(b_, o_.key, query), data, md5);
      r.headers.emplace_back("Content-Type", "application/octet-stream");
      FM_ASSIGN_OR_RETURN(AwsAnswer a, call(s_, std::move(r), true, what));
      FM_RETURN_IF_ERROR(confirmed(a.response, what, e_, md5, "").status());
      manifest += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" +
                  xml_escaped(header(a.response, "etag")) + "</ETag></Part>";
      part_md5s += md5;
      whole_md5.update(data);
      whole_sha256.update(data);
    }
    manifest += "</CompleteMultipartUpload>";
    HttpRequest r = body_request("POST", http_url(b_, o_.key, "?uploadId=" + uri_encoded(upload_id_, false)), manifest,
                                 md5_bytes(manifest));
    r.headers.emplace_back("Content-Type", "application/xml");
    // Completing is safe to repeat (S3 answers a repeat of a completed upload with its result).
    FM_ASSIGN_OR_RETURN(AwsAnswer a, call(s_, std::move(r), true, what_));
    if (xml_element_text(a.response.body, "Code")) {  // S3 may report a failure inside a 200
      return aws_error_status(s_, what_, AwsAnswer{a.response, read_s3_error(a.response), a.attempts});
    }
    FM_ASSIGN_OR_RETURN(S3Stored out, identified({what_, xml_element_text(a.response.body, "ETag").value_or(""),
                                                  header(a.response, "x-amz-version-id"), file.size(),
                                                  to_hex(whole_sha256.bytes()), part, ""}));
    // S3's multipart ETag is the MD5 of the parts' MD5s and their count;
    // some compatible stores answer the whole object's MD5.
    const std::string etag = unquoted(out.etag);
    const std::string aws_form = to_hex(md5_bytes(part_md5s)) + "-" + std::to_string(part);
    if (e_.mode == ServerSideEncryption::kKms) {
      out.check = "each part's Content-MD5, checked by the store";
    } else if (etag == aws_form) {
      out.check = "ETag is the MD5 of the parts' MD5s, each part's ETag its MD5";
    } else if (etag == to_hex(whole_md5.bytes())) {
      out.check = "ETag is the MD5 of the whole object, each part's ETag its MD5";
    } else {
      return Status::IoError(what_ + ": the store completed the upload with ETag " + printable_text(out.etag) +
                             ", which is not that of the parts sent (\"" + aws_form + "\"): not confirmed");
    }
    return out;
  }

  const AwsService& s_;
  const S3Bucket& b_;
  const S3Object& o_;
  const S3Encryption& e_;
  const std::string what_;
  std::string upload_id_;
};

}  // namespace

std::string s3_url(const S3Bucket& bucket, const std::string& key) { return "s3://" + bucket.bucket + "/" + key; }

Result<S3Stored> s3_put(const AwsService& service, const S3Bucket& bucket, const S3Object& object,
                        const S3Encryption& encryption, std::string_view data) {
  const std::string what = s3_url(bucket, object.key);
  const std::string md5 = md5_bytes(data);
  const std::string sha256 = sha256_bytes(data);
  HttpRequest r = body_request("PUT", http_url(bucket, object.key, ""), data, md5);
  r.headers.emplace_back("x-amz-checksum-sha256", base64_encoded(sha256));
  if (!object.content_type.empty()) r.headers.emplace_back("Content-Type", object.content_type);
  add_encryption(r, encryption);
  FM_ASSIGN_OR_RETURN(AwsAnswer a, call(service, std::move(r), true, what));
  FM_ASSIGN_OR_RETURN(std::string check, confirmed(a.response, what, encryption, md5, base64_encoded(sha256)));
  return identified({what, header(a.response, "etag"), header(a.response, "x-amz-version-id"), data.size(),
                     to_hex(sha256), 0, check});
}

Result<S3Stored> s3_put_file(const AwsService& service, const S3Bucket& bucket, const S3Object& object,
                             const S3Encryption& encryption, const std::string& path) {
  FM_ASSIGN_OR_RETURN(InputFile file, InputFile::open(path));
  if (file.size() <= kMultipartThreshold) {
    FM_ASSIGN_OR_RETURN(std::string data, file.read_at(0, file.size()));
    return s3_put(service, bucket, object, encryption, data);
  }
  return MultipartUpload(service, bucket, object, encryption).run(file);
}

}  // namespace flopsmeter

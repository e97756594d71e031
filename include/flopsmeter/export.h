// Exports: a run's record, its journals and its evidence to where an
// organisation keeps them, an S3-compatible object store or a DynamoDB
// table, and in the ledger a note of where each went.
//
//   flopsmeter::ExportOptions o;
//   o.to = "s3://acme-audit/flops";                  // or "dynamodb://flops-runs"
//   auto report = flopsmeter::export_records({flopsmeter::ExportSource::Kind::kRunDirectory, "runs/a"}, o);
//   if (!report.ok()) { /* nothing was claimed exported */ }
//   std::cout << flopsmeter::export_report_text(report->json);
//
// A record counts as exported only once the store confirmed it: every
// object's answer checked against what was sent (its ETag against the
// MD5 of the bytes, or the store's SHA-256 checksum), or the item written
// under its condition (or found already there, the same record). Only
// then does the ledger get an `export` entry about the record's entry.
// The record goes last, after its journals and evidence: a record in the
// store means everything it pins is there too.
//
// Credentials come from the AWS SDKs' chain (environment, profile files,
// container and instance metadata endpoints); no secret ever appears in a
// message, a report, a record or the ledger. docs/export.md describes the
// URL forms, the object and item layout, retries and the IAM permissions.
//
// Thread safety: export_records may be called from several threads at once.
#ifndef FLOPSMETER_EXPORT_H_
#define FLOPSMETER_EXPORT_H_

#include <cstdint>
#include <string>

#include "flopsmeter/ledger.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Where an export goes: the URL's scheme.
enum class ExportStore {
  kS3 = 0,        // s3://bucket/prefix
  kDynamoDb = 1,  // dynamodb://table
};

// Server-side encryption S3 applies to the objects.
enum class ServerSideEncryption {
  kNone = 0,       // the bucket's default
  kS3Managed = 1,  // "AES256": SSE-S3
  kKms = 2,        // "aws:kms": SSE-KMS, with the bucket's key or kms_key_id
};

// Options of an export. In the CLI and the C ABI's JSON the names in
// brackets; the meter takes the same ones (the URL as [export]).
struct ExportOptions {
  std::string to;            // [to] s3://bucket/prefix or dynamodb://table (meter: [export], FLOPS_METER_EXPORT)
  // [endpoint-url] an S3-compatible store or a DynamoDB endpoint other than
  // AWS's, e.g. http://127.0.0.1:9000; default AWS_ENDPOINT_URL_S3 or
  // AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, else AWS's for the region.
  std::string endpoint_url;
  // [region] default AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1.
  std::string region;
  // [profile] the AWS profile of the shared files; default AWS_PROFILE, else "default".
  std::string profile;
  // [path-style] https://endpoint/bucket/key instead of https://bucket.endpoint/key;
  // also the profile's s3.addressing_style = path, and always for an
  // endpoint whose host is an IP address or localhost (no bucket subdomain).
  bool path_style = false;
  ServerSideEncryption sse = ServerSideEncryption::kNone;  // [sse] AES256 or aws:kms
  std::string sse_kms_key_id;  // [sse-kms-key-id] the KMS key (with aws:kms); default the bucket's
  // [export-timeout] seconds an attempt may wait for the store, beyond
  // sending its body at 256 KiB/s (a slow or stalled store fails it);
  // default 30.
  double timeout_s = 30;
  // [export-attempts] attempts per request, the first included (1 to 10,
  // default 4): requests safe to repeat are tried again after a backoff.
  uint32_t attempts = 4;
  // The ledger the signed head comes from and the export is recorded in
  // ([ledger], [ledger-key], [data-dir]; FLOPSMETER_LEDGER, ...). A ledger
  // that does not exist is not created: the export then goes without a
  // head, and is not recorded.
  LedgerOptions ledger;
  // false: no ledger is read or written (the meter's export of a run it
  // records in no ledger).
  bool use_ledger = true;
};

// What is exported.
struct ExportSource {
  enum class Kind {
    kRunDirectory = 0,  // a run directory (or its flops_meter.json): record, journals, dossier files, head
    kModel = 1,         // a model of the ledger: its runs' records as the ledger holds them, its dossier, head
    kLedgerHead = 2,    // the ledger's current signed head alone
  };
  Kind kind = Kind::kRunDirectory;
  std::string name;  // the directory or record file, or the model; "" for the head
  // kRunDirectory: the record when it is not in the directory (the meter's
  // out, FLOPS_METER_OUT); "" is NAME/flops_meter.json.
  std::string record;
};

// `name` as the shells take it: an existing path is a run directory (or
// its record), anything else a model of the ledger.
ExportSource export_source_named(const std::string& name);

struct ExportReport {
  std::string json;  // schema flopsmeter.export/1 (docs/export.md)
};

// Exports `source` to `options.to`. Errors name the object, item or file
// at fault and, for a store's refusal, its error code (NotFound: a missing
// bucket or table; InvalidArgument: refused credentials, a clock the store
// says is off, a bad URL; IoError: no answer after the attempts). On any
// error nothing is recorded as exported, though objects written before the
// failure may be in the store (the message says which).
Result<ExportReport> export_records(const ExportSource& source, const ExportOptions& options);

// The report as text for people: one line per object or item, the ledger
// entries, the notes.
Result<std::string> export_report_text(const std::string& report_json);

}  // namespace flopsmeter

#endif  // FLOPSMETER_EXPORT_H_

// The command's exit statuses, documented in every --help.
#ifndef FLOPSMETER_CLI_EXIT_STATUS_H_
#define FLOPSMETER_CLI_EXIT_STATUS_H_

namespace flopsmeter::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitExceeded = 1;      // a gated regime is exceeded (--fail-if-exceeds)
inline constexpr int kExitError = 2;
inline constexpr int kExitUndetermined = 3;  // a verdict that matters could not be established

inline constexpr const char* kExitStatusText =
    "0 success; 1 --fail-if-exceeds and a gated regime is exceeded; 2 error; 3 a verdict that matters is "
    "undetermined (a run that trained without a token count, or a gated regime that cannot be decided). "
    "`watch` returns COMMAND's status when it is not 0.";

// The ledger's commands have no verdict to gate on: they succeed or fail.
inline constexpr const char* kLedgerExitStatusText =
    "0 success; 2 error (no ledger there, not a ledger, or a refusal, which writes nothing).";
inline constexpr const char* kLedgerVerifyExitStatusText =
    "0 the ledger verifies (and extends the head given with --head); 1 it does not: an entry changed, removed, "
    "inserted or not covered by a signed head, a signature that fails, or a held head it does not extend; 2 error "
    "(no ledger there, not a ledger, an unreadable head).";
inline constexpr const char* kExportExitStatusText =
    "0 everything exported and confirmed by the store (and recorded, where the ledger holds the record); 2 error "
    "(nothing more is recorded as exported; the message names what the store holds from before the failure).";
inline constexpr const char* kVerifyProofExitStatusText =
    "0 the proof checks; 1 it does not (forged or altered: the problem is printed, or \"ok\": false with --json); 2 "
    "error (not an inclusion proof, an unreadable file, a trusted key that names no key).";

}  // namespace flopsmeter::cli

#endif  // FLOPSMETER_CLI_EXIT_STATUS_H_

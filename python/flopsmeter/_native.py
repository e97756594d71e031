"""Loads libflopsmeter (include/flopsmeter/c_api.h) with ctypes and wraps its calls.

The library is found on first use, not at import, so `import flopsmeter` works
everywhere and a missing library is reported by the call that needs it, naming
every place that was tried:

1. the path in the environment variable FLOPSMETER_LIBRARY;
2. libflopsmeter.so next to this package (where a packager may copy it);
3. ctypes.util.find_library("flopsmeter") (the system's library path).

Strings cross the ABI as UTF-8 JSON; every string the library returns is
freed with fm_free() here, so callers only ever see Python objects.
"""

import ctypes
import ctypes.util
import json
import os
import re
import threading

# The ABI this binding was written against (FM_ABI_VERSION in c_api.h).
ABI_VERSION = 1

# fm_status values, by name (c_api.h).
_STATUS_NAMES = {
    0: "FM_OK",
    1: "FM_INVALID_ARGUMENT",
    2: "FM_PARSE_ERROR",
    3: "FM_NOT_FOUND",
    4: "FM_UNSUPPORTED",
    5: "FM_IO_ERROR",
    6: "FM_OVERFLOW",
    7: "FM_INTERNAL",
}


class FlopsMeterError(RuntimeError):
    """A failure reported by libflopsmeter, or the library could not be loaded.

    `code` is the fm_status name ("FM_INVALID_ARGUMENT", ...), `status` its value.
    """

    def __init__(self, message, code="FM_INTERNAL"):
        super().__init__(message)
        self.code = code
        self.status = next((value for value, name in _STATUS_NAMES.items() if name == code), None)

    def __str__(self):
        return f"{self.args[0]} ({self.code})"


_library = None
_library_lock = threading.Lock()


def _candidate_paths():
    """(description, path) pairs in the order they are tried."""
    candidates = []
    from_environment = os.environ.get("FLOPSMETER_LIBRARY")
    if from_environment:
        candidates.append(("FLOPSMETER_LIBRARY", from_environment))
    beside_package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libflopsmeter.so")
    candidates.append(("next to the package", beside_package))
    found = ctypes.util.find_library("flopsmeter")
    candidates.append(('ctypes.util.find_library("flopsmeter")', found))
    return candidates


def _declare(lib):
    """Sets argtypes/restype of every fm_* function (the C signature above each)."""
    char_out = ctypes.POINTER(ctypes.c_void_p)  # char** the caller frees with fm_free
    meter = ctypes.c_void_p
    u64 = ctypes.c_uint64
    signatures = {
        # int fm_abi_version(void)
        "fm_abi_version": (ctypes.c_int, []),
        # const char* fm_version(void)
        "fm_version": (ctypes.c_char_p, []),
        # void fm_free(void* p)
        "fm_free": (None, [ctypes.c_void_p]),
        # fm_status fm_meter_begin(const char* options_json, fm_meter** out, char** error)
        "fm_meter_begin": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(meter), char_out]),
        # void fm_meter_add(fm_meter*, uint64_t tokens, uint64_t positions, uint64_t micro_batches)
        "fm_meter_add": (None, [meter, u64, u64, u64]),
        # void fm_meter_add_positions(fm_meter*, uint64_t positions, uint64_t micro_batches)
        "fm_meter_add_positions": (None, [meter, u64, u64]),
        # void fm_meter_sync_tokens(fm_meter*, uint64_t tokens)
        "fm_meter_sync_tokens": (None, [meter, u64]),
        # void fm_meter_add_sequences(fm_meter*, uint64_t length, uint64_t count)
        "fm_meter_add_sequences": (None, [meter, u64, u64]),
        # fm_status fm_meter_step(fm_meter*, uint64_t global_step, char** state_json, char** error)
        "fm_meter_step": (ctypes.c_int, [meter, u64, char_out, char_out]),
        # fm_status fm_meter_step_budget(fm_meter*, uint64_t global_step, int* stop, char** news_json, char** error)
        "fm_meter_step_budget": (ctypes.c_int, [meter, u64, ctypes.POINTER(ctypes.c_int), char_out, char_out]),
        # fm_status fm_meter_checkpoint(fm_meter*, uint64_t global_step, const char* path, char** error)
        "fm_meter_checkpoint": (ctypes.c_int, [meter, u64, ctypes.c_char_p, char_out]),
        # fm_status fm_meter_flush(fm_meter*, char** error)
        "fm_meter_flush": (ctypes.c_int, [meter, char_out]),
        # fm_status fm_meter_end(fm_meter*, const char* end_json, char** record_json, char** error)
        "fm_meter_end": (ctypes.c_int, [meter, ctypes.c_char_p, char_out, char_out]),
        # const char* fm_meter_run_id(const fm_meter*)
        "fm_meter_run_id": (ctypes.c_char_p, [meter]),
        # void fm_meter_free(fm_meter*)
        "fm_meter_free": (None, [meter]),
        # fm_status fm_report_run(const char* run_dir, const char* options_json, char** record_json, char** error)
        "fm_report_run": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, char_out, char_out]),
        # fm_status fm_ledger_open(const char* options_json, int create, fm_ledger** out, char** error)
        "fm_ledger_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), char_out]),
        # fm_status fm_ledger_call(fm_ledger*, const char* request_json, char** response_json, char** error)
        "fm_ledger_call": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, char_out, char_out]),
        # void fm_ledger_free(fm_ledger*)
        "fm_ledger_free": (None, [ctypes.c_void_p]),
        # fm_status fm_verify_inclusion_proof(const char* proof_json, const char* trusted_key, char** message,
        #                                     char** error)
        "fm_verify_inclusion_proof": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, char_out, char_out]),
        # fm_status fm_export(const char* source, const char* options_json, char** report_json, char** error)
        "fm_export": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, char_out, char_out]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


def library():
    """The loaded library (loaded and checked on first call).

    Raises FlopsMeterError (FM_NOT_FOUND) naming every place tried, or
    (FM_UNSUPPORTED) when the library's ABI version is not ABI_VERSION.
    """
    global _library
    loaded = _library  # every call into the library comes here: no lock once loaded
    if loaded is not None:
        return loaded
    with _library_lock:
        if _library is not None:
            return _library
        tried = []
        for description, path in _candidate_paths():
            if not path:
                tried.append(f"{description}: nothing found")
                continue
            if os.path.sep in path and not os.path.exists(path):
                tried.append(f"{description}: {path} does not exist")
                continue
            try:
                lib = ctypes.CDLL(path)
                _declare(lib)
            except (OSError, AttributeError) as error:
                tried.append(f"{description}: {path}: {error}")
                continue
            abi = lib.fm_abi_version()
            if abi != ABI_VERSION:
                raise FlopsMeterError(
                    f"{path} has C ABI version {abi}; this flopsmeter package needs {ABI_VERSION}",
                    "FM_UNSUPPORTED")
            _library = lib
            return lib
        raise FlopsMeterError(
            "libflopsmeter not found; build it (cmake --build BUILD --target flopsmeter_c) and set "
            "FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so. Tried: " + "; ".join(tried),
            "FM_NOT_FOUND")


def take_string(pointer):
    """The text of a malloc'd char* from the library, freed."""
    if not pointer:
        return None
    try:
        return ctypes.string_at(pointer).decode("utf-8")
    finally:
        library().fm_free(pointer)


def call(function_name, *arguments, returns_text=False):
    """Calls an fm_status function whose last parameter is char** error.

    With returns_text the parameter before it is a char** result, returned as
    str (None when the library set none). A non-zero status raises
    FlopsMeterError with the library's message.
    """
    function = getattr(library(), function_name)
    error = ctypes.c_void_p()
    if returns_text:
        result = ctypes.c_void_p()
        status = function(*arguments, ctypes.byref(result), ctypes.byref(error))
        text = take_string(result)
    else:
        status = function(*arguments, ctypes.byref(error))
        text = None
    if status != 0:
        raise failure(function_name, status, error)
    return text


# An option as the library's messages name it (--lora-r, option "lora-r",
# did you mean "lora-r"?), which Python spells lora_r.
_OPTION_IN_MESSAGE = re.compile(r'--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)|'
                                r'((?:option|did you mean) ")([a-z][a-z0-9]*(?:-[a-z0-9]+)+)(")')


def python_spelling(message):
    """The library's message with its option names as Python keywords."""
    def keyword(match):
        if match.group(1):
            return match.group(1).replace("-", "_")
        return match.group(2) + match.group(3).replace("-", "_") + match.group(4)
    return _OPTION_IN_MESSAGE.sub(keyword, message)


def failure(function_name, status, error):
    """The FlopsMeterError for a non-zero fm_status from `function_name`,
    with the library's message taken (and freed) from `error`, a c_void_p,
    its option names spelled as Python's keywords."""
    code = _STATUS_NAMES.get(status, f"fm_status {status}")
    return FlopsMeterError(python_spelling(take_string(error) or f"{function_name} failed"), code)


def env_setting(name):
    """flopsmeter's setting NAME from the environment, as the library reads
    it: FLOPSMETER_NAME, else the AWS toolkit's FLOPS_METER_NAME; an empty
    variable counts as unset. None when neither is set."""
    return os.environ.get("FLOPSMETER_" + name) or os.environ.get("FLOPS_METER_" + name) or None


def encode_json(value):
    """UTF-8 JSON text for the ABI; None stays NULL."""
    return None if value is None else json.dumps(value).encode("utf-8")


def version():
    """The library's version string, e.g. "0.1.0"."""
    return library().fm_version().decode("utf-8")

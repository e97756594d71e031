"""flopsmeter: meters the training compute of LLM fine-tuning (EU AI Act).

Pure Python over libflopsmeter's C ABI (ctypes); the library is loaded on
first use from FLOPSMETER_LIBRARY, next to this package, or the system's
library path (flopsmeter._native). docs/python.md describes the package.

    import flopsmeter
    with flopsmeter.Meter("runs/a", n_total=n, n_trainable=t) as meter:
        ...
    flopsmeter.report("runs/a")      # a crashed run, finalised from its journals
    flopsmeter.Ledger("ledger.sqlite").lineage("acme/llama-sft")  # the audit ledger
    flopsmeter.export("runs/a", "s3://acme-audit/flops")         # to the organisation's store

Hugging Face Trainer / TRL: flopsmeter.hf.FlopsMeterCallback.
"""

from ._native import ABI_VERSION, FlopsMeterError, version
from .export import export
from .ledger import Ledger, verify_proof
from .meter import Meter, report
from .model_info import count_parameters, model_options

__all__ = ["ABI_VERSION", "FlopsMeterError", "Ledger", "Meter", "count_parameters", "export", "model_options",
           "report", "verify_proof", "version"]

"""The audit ledger from Python: the same calls as `flopsmeter ledger`.

Every model and run of an organisation in one signed, append-only record
(a SQLite file or a PostgreSQL database), with each model's lineage and
cumulative compute. docs/ledger.md describes the entries and what verify
proves; each method returns the parsed JSON document the CLI's --json
prints (its "schema" names it).

    with flopsmeter.Ledger("ledger.sqlite", organisation="Acme") as ledger:
        ledger.add_run(open("runs/a/flops_meter.json").read(),
                       produces="acme/llama-sft", parent="meta-llama/Llama-3.1-8B",
                       run_dir="runs/a")
        print(ledger.lineage("acme/llama-sft")["verdict"]["text"])
        assert ledger.verify()["ok"]

A metered run appends its record by itself when the Meter is given
ledger="..." (or FLOPSMETER_LEDGER is set).
"""

import ctypes
import json

from . import _native


class Ledger:
    """A ledger, open. Not shared between threads (open one per thread)."""

    def __init__(self, location=None, *, key=None, organisation=None, data_dir=None, create=True):
        """location: a SQLite path or a postgresql:// URL (None: FLOPSMETER_LEDGER,
        else the per-user default). key: the Ed25519 key file that signs
        appends (None: FLOPSMETER_LEDGER_KEY, else the per-user default, made
        on first use). organisation: who makes the models registered here
        (None: FLOPSMETER_ORGANISATION). create: make a missing ledger."""
        # Set first: a refused open still reaches __del__, which must find it.
        self._handle = None
        options = {"ledger": location, "ledger-key": key, "organisation": organisation, "data-dir": data_dir}
        options = {name: str(value) for name, value in options.items() if value is not None}
        handle = ctypes.c_void_p()
        error = ctypes.c_void_p()
        status = _native.library().fm_ledger_open(_native.encode_json(options), 1 if create else 0,
                                                  ctypes.byref(handle), ctypes.byref(error))
        if status != 0:
            raise _native.failure("fm_ledger_open", status, error)
        self._handle = handle

    def close(self):
        if self._handle:
            _native.library().fm_ledger_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _call(self, call, **arguments):
        if not self._handle:
            raise _native.FlopsMeterError("the ledger is closed", "FM_INVALID_ARGUMENT")
        request = {"call": call}
        request.update({name: value for name, value in arguments.items() if value is not None})
        text = _native.call("fm_ledger_call", self._handle, _native.encode_json(request), returns_text=True)
        return json.loads(text)

    # Appending: each returns flopsmeter.ledger_append/1 (entry, no_change,
    # superseded, tree_size, the signed head).
    def keygen(self):
        """Makes a new signing key at the ledger's key path (never over an
        existing file) and registers its public key: what a `key` given for
        a machine or a job needs before its first append."""
        return self._call("keygen")

    def register_key(self):
        return self._call("register_key")

    def add_model(self, name, *, organisation=None, parents=None, how=None, note=None, systemic_risk=False,
                  pretraining_flop=None, pretraining_source="", pretraining_status=None, pretraining_run=None):
        """A base model (no parents: its pretraining compute as an int, a
        float such as 3e23 or a decimal string such as "3e23", with its
        source; or None with status "unknown"; or pretraining_run, the
        directory or record of the metered run that pretrained it, checked
        against its journals: its measured figure and source), or a derived
        one (its parents, already in the ledger)."""
        if pretraining_run is not None:
            if pretraining_flop is not None or pretraining_source or pretraining_status is not None:
                raise ValueError("pretraining_run gives the figure, its source and status: give it alone")
            pretraining = {"run": str(pretraining_run)}
        else:
            if pretraining_status is None:
                pretraining_status = "" if parents else ("given" if pretraining_flop is not None else "unknown")
            pretraining = {"flop": _flop_text(pretraining_flop), "source": pretraining_source,
                           "status": pretraining_status}
        model = {"name": name, "organisation": organisation or "", "parents": list(parents or []),
                 "how": how or "", "note": note or "", "systemic_risk": bool(systemic_risk),
                 "pretraining": pretraining}
        return self._call("add_model", model=model)

    def add_run(self, record_json, *, produces, parent=None, how=None, imported=False, run_dir=None):
        """A run's flops_meter.json text, as the run that made `produces`
        (from `parent` when `produces` is new). Idempotent by run id; another
        record of the same run supersedes the earlier one. With run_dir, its
        journals must still hold the lines the record pinned."""
        return self._call("add_run", record=record_json, produces=produces, parent=parent, how=how,
                          imported=bool(imported), run_dir=None if run_dir is None else str(run_dir))

    def add_estimate(self, estimate_json, model=""):
        return self._call("add_estimate", estimate=estimate_json, model=model)

    def annotate(self, entry, text, supersedes=False):
        return self._call("annotate", entry=int(entry), text=text, supersedes=bool(supersedes))

    def record_export(self, entry, url, version=""):
        return self._call("record_export", entry=int(entry), url=url, version=version)

    # Reading.
    def models(self):
        return self._call("models")

    def model(self, name):
        return self._call("model", model=name)

    def lineage(self, name):
        return self._call("lineage", model=name)

    def runs(self, model=None):
        return self._call("runs", model=model)

    def basis(self, model):
        """What a run on `model` by this organisation starts from."""
        return self._call("basis", model=model)

    def head(self):
        return self._call("head")

    def verify(self, head=None, trusted_keys=None):
        """flopsmeter.ledger_verify/1; "ok" is False when anything is wrong.
        head: a head kept earlier (a dict or its JSON text)."""
        if isinstance(head, dict):
            head = json.dumps(head)
        return self._call("verify", head=head, trusted_keys=list(trusted_keys) if trusted_keys else None)

    def prove(self, entry):
        return self._call("prove", entry=int(entry))


def _flop_text(flop):
    """A FLOP figure as the library's exact decimal text. A float goes as the
    shortest text that reads back as it (3e23 as "3e+23", which the library
    takes as exactly 3 x 10^23), not as int(3e23), the binary float's value
    (...008388608); a string as given (the library checks it)."""
    if flop is None or isinstance(flop, str):
        return flop
    if isinstance(flop, float):
        return repr(flop)
    return str(flop)


def verify_proof(proof, trusted_key=None):
    """Checks an inclusion proof (a dict or its JSON text) with no database;
    returns what it proves, raises FlopsMeterError when it does not hold."""
    if isinstance(proof, dict):
        proof = json.dumps(proof)
    key = None if trusted_key is None else str(trusted_key).encode("utf-8")
    return _native.call("fm_verify_inclusion_proof", proof.encode("utf-8"), key, returns_text=True)

"""Exports from Python: the same call as `flopsmeter export`.

A run's record, journals and evidence to an S3-compatible store, or one
DynamoDB item per record; the ledger records each export once the store
confirmed it. docs/export.md describes the layout, the credentials (the AWS
SDKs' chain: environment, profile files, container and instance metadata)
and the IAM permissions.

    report = flopsmeter.export("runs/a", "s3://acme-audit/flops", region="eu-west-1")
    for unit in report["exported"]:
        print(unit["kind"], unit["id"], unit["ledger_entry"])

A metered run exports itself at its end when the Meter is given
export="s3://..." (or FLOPSMETER_EXPORT / FLOPS_METER_EXPORT is set); a failure there is a
warning in its record, never an exception in the training loop.
"""

import json
import os

from . import _native
from .meter import option_key


def export(source, to, *, ledger_head=False, **options):
    """Exports `source` (a run directory or its flops_meter.json, else a
    model of the ledger; None with ledger_head=True for the ledger's signed
    head) to `to` (s3://bucket/prefix or dynamodb://table). Options keep the
    CLI's names with underscores: endpoint_url, region, profile, path_style,
    sse ("AES256" or "aws:kms"), sse_kms_key_id, export_timeout,
    export_attempts, ledger, ledger_key, data_dir.

    Returns the report (dict, schema flopsmeter.export/1). Raises
    FlopsMeterError when anything was not confirmed by the store: nothing
    more is then recorded as exported, and the message says what the store
    already holds."""
    given = {"to": to, "ledger-head": True if ledger_head else None}
    given.update({option_key(name): value for name, value in options.items()})
    given = {name: value for name, value in given.items() if value is not None}
    source_bytes = None if source is None else os.fsencode(source)
    report = _native.call("fm_export", source_bytes, _native.encode_json(given), returns_text=True)
    return json.loads(report)

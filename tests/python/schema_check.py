"""Validation of flopsmeter's JSON documents against schemas/*.schema.json
(JSON Schema draft 2020-12, Debian python3-jsonschema), shared by the schema
tests. Every schema in schemas/ is loaded into one store, so that a schema's
"$ref" to another file (ledger_common.schema.json#/$defs/..., the run
record's $defs) resolves offline by its $id.
"""

import glob
import json
import os

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "schemas")


def load_schemas():
    """Every schema of schemas/, by file name."""
    schemas = {}
    for path in sorted(glob.glob(os.path.join(SCHEMA_DIR, "*.schema.json"))):
        with open(path, encoding="utf-8") as f:
            schemas[os.path.basename(path)] = json.load(f)
    return schemas


def validator(name, schemas=None):
    """A Draft 2020-12 validator for schemas/NAME, its references resolved
    among the other schemas; the schema itself is checked first."""
    import jsonschema  # pylint: disable=import-outside-toplevel  (seconds to import on a loaded machine)
    schemas = schemas or load_schemas()
    schema = schemas[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    store = {s["$id"]: s for s in schemas.values()}
    resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def schema_errors(check, document, limit=10):
    """The first `limit` errors, one line each ("/path: message"); [] when valid."""
    errors = sorted(check.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}" for e in errors[:limit]]

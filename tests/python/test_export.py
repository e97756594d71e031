"""flopsmeter.export and the Meter's own export at its end, over the real
libflopsmeter, against the test stores (tests/export/with_stores.sh: s3rver
and dynalite behind a proxy that checks every signature), read back with
the AWS SDK for JavaScript (tests/export/readback.js).

Run: tests/export/with_stores.sh env FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so \
     PYTHONPATH=python:tests/python python3 -m unittest test_export
"""

import json
import os
import subprocess
import tempfile
import unittest
from unittest import mock

import flopsmeter
import tiny_llama

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT_TESTS = os.path.join(HERE, "..", "export")


def test_key(key_id, field):
    return subprocess.run(["node", os.path.join(EXPORT_TESTS, "test_keys.js"), key_id, field], check=True,
                          capture_output=True, text=True).stdout


def readback(*arguments):
    return subprocess.run(["node", os.path.join(EXPORT_TESTS, "readback.js"), *arguments], check=True,
                          capture_output=True, text=True).stdout


class ExportTest(unittest.TestCase):
    def setUp(self):
        if "FM_TEST_PROXY_PORT" not in os.environ:
            self.skipTest("needs the test stores: run under tests/export/with_stores.sh")
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        environment = mock.patch.dict(os.environ)
        environment.start()
        self.addCleanup(environment.stop)
        for name in list(os.environ):
            if name.startswith(("AWS_", "FLOPSMETER_", "FLOPS_METER_")) and name != "FLOPSMETER_LIBRARY":
                del os.environ[name]
        self.secret = test_key("AKIAFLOPSENV0000TEST", "secret")
        os.environ.update(AWS_ACCESS_KEY_ID="AKIAFLOPSENV0000TEST", AWS_SECRET_ACCESS_KEY=self.secret,
                          AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE=self.path("none"),
                          AWS_CONFIG_FILE=self.path("none"), XDG_DATA_HOME=self.path("data"),
                          XDG_CONFIG_HOME=self.path("config"))
        self.endpoint = f"http://127.0.0.1:{os.environ['FM_TEST_PROXY_PORT']}"
        self.ledger = {"ledger": self.path("ledger.sqlite"), "ledger_key": self.path("ledger.key"),
                       "organisation": "Acme"}

    def path(self, *parts):
        return os.path.join(self.directory.name, *parts)

    def metered(self, name, **options):
        run_dir = self.path(name)
        with flopsmeter.Meter(run_dir, n_total=tiny_llama.PARAMETERS, n_trainable=tiny_llama.PARAMETERS,
                              journal_interval=3600, **options) as meter:
            for step, batch in enumerate(tiny_llama.padded_batches(2), 1):
                meter.add_batch(**batch)
                meter.step(step)
        with open(os.path.join(run_dir, "flops_meter.json"), encoding="utf-8") as f:
            return run_dir, json.load(f)

    def test_the_meter_exports_at_its_end_and_the_ledger_records_it(self):
        with flopsmeter.Ledger(**{"location": self.ledger["ledger"], "key": self.ledger["ledger_key"],
                                  "organisation": "Acme"}) as ledger:
            ledger.keygen()
            ledger.add_model("base/b", organisation="Base", pretraining_flop=3 * 10**23, pretraining_source="x")
        run_dir, record = self.metered("run", ledger_model="base/b", ledger_produces="acme/py",
                                       export="s3://audit/python", endpoint_url=self.endpoint, **self.ledger)
        got = self.path("got.json")
        readback("get-object", "audit", f"python/{record['run_id']}/flops_meter.json", got)
        with open(got, "rb") as a, open(os.path.join(run_dir, "flops_meter.json"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        with flopsmeter.Ledger(self.ledger["ledger"], key=self.ledger["ledger_key"], create=False) as ledger:
            [exported] = ledger.model("acme/py")["exports"]
        self.assertEqual(exported["url"], f"s3://audit/python/{record['run_id']}/flops_meter.json")
        self.assertTrue(exported["version"].startswith('ETag "'))

    def test_export_to_dynamodb_read_back_attribute_by_attribute(self):
        run_dir, record = self.metered("run")
        report = flopsmeter.export(run_dir, "dynamodb://flops-runs", endpoint_url=self.endpoint, export_attempts=2)
        [unit] = report["exported"]
        self.assertEqual(unit["item"]["run_id"], record["run_id"])
        self.assertEqual(unit["not_recorded"], "there is no ledger")
        readback("compare-item", "flops-runs", record["run_id"], str(unit["item"]["record_version"]),
                 os.path.join(run_dir, "flops_meter.json"))
        again = flopsmeter.export(run_dir, "dynamodb://flops-runs", endpoint_url=self.endpoint)
        self.assertTrue(again["exported"][0]["item"]["already_there"])

    def test_failures_raise_with_the_stores_code_and_no_secret(self):
        run_dir, _ = self.metered("run")
        with self.assertRaises(flopsmeter.FlopsMeterError) as refused:
            flopsmeter.export(run_dir, "s3://nosuchbucket/x", endpoint_url=self.endpoint)
        self.assertEqual(refused.exception.code, "FM_NOT_FOUND")
        self.assertIn("NoSuchBucket", str(refused.exception))
        os.environ["AWS_SECRET_ACCESS_KEY"] = self.secret + "-wrong"
        with self.assertRaises(flopsmeter.FlopsMeterError) as denied:
            flopsmeter.export(run_dir, "s3://audit/x", endpoint_url=self.endpoint)
        self.assertIn("HTTP 403 SignatureDoesNotMatch", str(denied.exception))
        self.assertNotIn(self.secret, str(denied.exception))
        with self.assertRaises(flopsmeter.FlopsMeterError) as bad:
            flopsmeter.export(run_dir, "s3://Bad_Bucket/x")
        self.assertEqual(bad.exception.code, "FM_INVALID_ARGUMENT")
        with self.assertRaises(flopsmeter.FlopsMeterError) as unknown:
            flopsmeter.export(run_dir, "s3://audit/x", endpont_url=self.endpoint)
        self.assertIn('unknown option "endpont_url"', str(unknown.exception))

    def test_a_failed_export_at_the_end_is_a_warning_in_the_record(self):
        _, record = self.metered("run", export="s3://audit/down", endpoint_url="http://127.0.0.1:1",
                                 export_attempts=1)
        self.assertTrue(any("could not be exported to s3://audit/down" in w for w in record["warnings"]),
                        record["warnings"])


if __name__ == "__main__":
    unittest.main()

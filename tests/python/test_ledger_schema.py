"""The audit ledger's --json documents against their schemas in schemas/.

One real ledger is built with the CLI, as a user would: a key (`ledger
keygen`), a base of known compute and one of unknown compute, runs metered by
`flopsmeter watch` and added (`ledger add`), a second run on the first's
model, an AWS toolkit record imported, a merge, an annotation, an estimate on
file (`estimate --record`), a run re-added (no change), a model superseded
(its run then counts nowhere: a warning). Then every ledger command prints
--json and each document is validated against its schema, with relations
the schemas cannot state checked beside; a tampered copy of the ledger and
an altered proof give the failing documents. Finally, edits a reader must
refuse are checked to be refused, so that no schema is vacuous.

Run: FLOPSMETER_CLI=BUILD/flopsmeter PYTHONPATH=tests/python /usr/bin/python3 -m unittest test_ledger_schema
"""

import copy
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import schema_check

# The schema file of each document, by its schema id.
SCHEMA_FILES = {
    "flopsmeter.ledger_append/1": "ledger_append.schema.json",
    "flopsmeter.ledger_models/1": "ledger_models.schema.json",
    "flopsmeter.ledger_model/1": "ledger_model.schema.json",
    "flopsmeter.ledger_lineage/1": "ledger_lineage.schema.json",
    "flopsmeter.ledger_runs/1": "ledger_runs.schema.json",
    "flopsmeter.ledger_verify/1": "ledger_verify.schema.json",
    "flopsmeter.tree_head/1": "tree_head.schema.json",
    "flopsmeter.inclusion_proof/1": "inclusion_proof.schema.json",
    "flopsmeter.proof_check/1": "proof_check.schema.json",
}

# An AWS Fine-Tuning FLOPs Meter record: integer counts, figures as strings
# of three significant digits, no schema.
AWS_RECORD = {
    "training_job_name": "aws-job-7", "model_name": "gpt2", "N_total": 124439808, "N_trainable": 124439808,
    "tokens_processed": 1000000, "Flops_architecture": "7.47e+14", "Flops_original": "", "threshold_type": "unknown",
    "exceeds_30pct": False,
}


def documents(text):
    """The JSON documents printed one after another (ledger import of several files)."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        while text[at].isspace():
            at += 1
        doc, at = decoder.raw_decode(text, at)
        out.append(doc)
    return out


class LedgerSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cli = os.environ.get("FLOPSMETER_CLI")
        if not cli or not os.path.exists(cli):
            raise unittest.SkipTest("FLOPSMETER_CLI is not set to the built flopsmeter")
        cls.cli = cli
        cls.dir = tempfile.mkdtemp(prefix="fm-ledger-schema-")
        schemas = schema_check.load_schemas()
        cls.validators = {sid: schema_check.validator(name, schemas) for sid, name in SCHEMA_FILES.items()}
        # HOME and XDG under the scratch directory, and none of the caller's
        # ledger settings: no user's ledger or key is read or touched.
        cls.env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("FLOPSMETER_", "FLOPS_METER_")) and k != "PRETRAIN_FLOPS"}
        for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            cls.env[name] = os.path.join(cls.dir, name.lower())
        cls.ledger = os.path.join(cls.dir, "ledger.sqlite")
        cls.key = os.path.join(cls.dir, "ledger.key")
        cls.seen = {}  # schema id -> documents validated
        try:
            cls.build()
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    # -- the CLI ----------------------------------------------------------

    @classmethod
    def run_cli(cls, *args, status=0, ledger=None):
        # verify-proof reads no ledger: it takes no --ledger.
        where = [] if args[0] == "verify-proof" else ["--ledger", ledger or cls.ledger]
        done = subprocess.run([cls.cli, *args, *where], capture_output=True, text=True, timeout=120, env=cls.env)
        if done.returncode != status:
            raise AssertionError(f"flopsmeter {' '.join(args)}: exit {done.returncode}, wanted {status}\n"
                                 f"{done.stderr[:3000]}")
        return done.stdout

    @classmethod
    def json_of(cls, *args, status=0, ledger=None):
        return json.loads(cls.run_cli(*args, "--json", status=status, ledger=ledger))

    @classmethod
    def append(cls, *args):
        """An appending command's document (one per item)."""
        return documents(cls.run_cli(*args, "--json", "--ledger-key", cls.key))

    @classmethod
    def metered_run(cls, name, tokens):
        """A run metered by `flopsmeter watch`: a job that reports its token count."""
        run, count = os.path.join(cls.dir, name), os.path.join(cls.dir, name + ".tokens")
        subprocess.run([cls.cli, "watch", "--run", run, "--n-total", "1000000", "--n-trainable", "1000000",
                        "--tokens-from", count, "--", "sh", "-c", f'echo {tokens} > "$0"', count],
                       check=True, capture_output=True, timeout=120, env=cls.env)
        return run

    @classmethod
    def build(cls):
        runs = [cls.metered_run(f"r{i}", 100000 * i) for i in range(1, 5)]
        aws, aws2 = os.path.join(cls.dir, "aws.json"), os.path.join(cls.dir, "aws2.json")
        with open(aws, "w", encoding="utf-8") as f:
            json.dump(AWS_RECORD, f)
        with open(aws2, "w", encoding="utf-8") as f:
            json.dump({**AWS_RECORD, "training_job_name": "aws-job-8", "tokens_processed": 2000000}, f)
        acme = ("--organisation", "Acme")
        cls.appended = []
        cls.appended += cls.append("ledger", "keygen")
        cls.appended += cls.append("ledger", "register", "ex/base", "--pretrain-flops", "3e22", "--pretrain-source",
                                   "a paper", "--organisation", "BaseCo")
        cls.appended += cls.append("ledger", "register", "ex/mystery", "--pretrain-unknown", "--organisation", "Other")
        cls.appended += cls.append("ledger", "add", runs[0], "--ledger-produces", "acme/sft", "--ledger-model",
                                   "ex/base", *acme)
        cls.appended += cls.append("ledger", "add", runs[1], "--ledger-produces", "acme/sft2", "--ledger-model",
                                   "acme/sft", *acme)
        # Two files in one transaction: one document each, one after the other.
        cls.imported = cls.append("ledger", "import", aws, aws2, "--ledger-produces", "acme/old", "--ledger-model",
                                  "ex/base", *acme)
        cls.appended += cls.imported
        cls.appended += cls.append("ledger", "register", "acme/merged", "--parents", "acme/sft2,acme/old", *acme)
        cls.appended += cls.append("ledger", "add", runs[2], "--ledger-produces", "acme/myst", "--ledger-model",
                                   "ex/mystery", *acme)
        # A run on a model that is then superseded: the run counts nowhere.
        cls.appended += cls.append("ledger", "add", runs[3], "--ledger-produces", "acme/dropped", "--ledger-model",
                                   "ex/base", *acme)
        cls.dropped_model = cls.appended[-1]["entry"] - 1  # registered with its run, under one head
        cls.appended += cls.append("ledger", "annotate", str(cls.dropped_model), "--note", "wrong base",
                                   "--supersedes")
        cls.sft_run = cls.appended[3]["entry"]
        cls.appended += cls.append("ledger", "annotate", str(cls.sft_run), "--note", "checked by QA")
        cls.appended += cls.append("ledger", "add", runs[0], "--ledger-produces", "acme/sft")  # again: no change
        subprocess.run([cls.cli, "estimate", "--model", "gpt2", "--method", "full", "--tokens", "1e6",
                        "--ledger-model", "acme/merged", "--organisation", "Acme", "--record", "--ledger", cls.ledger,
                        "--ledger-key", cls.key], check=True, capture_output=True, timeout=120, env=cls.env)
        fresh = os.path.join(cls.dir, "fresh.sqlite")
        cls.appended += documents(cls.run_cli("ledger", "init", "--json", "--ledger-key", cls.key, ledger=fresh))

    # -- checks -------------------------------------------------------------

    def assertValid(self, doc, what):
        self.assertIsInstance(doc, dict, what)
        self.assertIn(doc.get("schema"), self.validators, f"{what}: unknown schema id {doc.get('schema')!r}")
        errors = schema_check.schema_errors(self.validators[doc["schema"]], doc)
        if errors:
            self.fail(f"{what}: does not match {SCHEMA_FILES[doc['schema']]}:\n" + "\n".join(errors))
        type(self).seen.setdefault(doc["schema"], []).append(doc)

    def assertInvalid(self, sid, doc, what):
        self.assertFalse(self.validators[sid].is_valid(doc), f"{SCHEMA_FILES[sid]} accepts {what}")

    # -- the documents ------------------------------------------------------

    def test_appends(self):
        self.assertEqual(len(self.appended), 14)
        self.assertEqual([d["what"] for d in self.imported],
                         [f"the record {os.path.join(self.dir, name)}" for name in ("aws.json", "aws2.json")])
        self.assertEqual(self.imported[0]["head"], self.imported[1]["head"], "one transaction, one head")
        for doc in self.appended:
            self.assertValid(doc, doc["what"])
            self.assertEqual(doc["head"]["size"], doc["tree_size"], doc["what"])
            if not doc["no_change"]:
                self.assertLess(doc["entry"], doc["tree_size"], doc["what"])
        again = self.appended[-2]
        self.assertTrue(again["no_change"])
        self.assertEqual(again["entry"], self.sft_run)
        self.assertIn("public key", self.appended[0]["what"])
        self.assertTrue(self.appended[0]["notes"], "keygen says where the key is")

    def test_models_and_show(self):
        models = self.json_of("ledger", "models")
        self.assertValid(models, "ledger models")
        names = {m["name"]: m for m in models["models"]}
        self.assertEqual(set(names), {"ex/base", "ex/mystery", "acme/sft", "acme/sft2", "acme/old", "acme/merged",
                                      "acme/myst"})
        self.assertEqual(len(models["warnings"]), 1)
        self.assertIn(f"entry {self.dropped_model + 1}", models["warnings"][0])
        runs = {r["run_id"]: r for r in self.json_of("ledger", "runs")["runs"]}
        aws_figure = (4 * AWS_RECORD["N_total"] + 2 * AWS_RECORD["N_trainable"]) * AWS_RECORD["tokens_processed"]
        self.assertEqual(runs["aws:aws-job-7"]["compliance_flop"], str(aws_figure))
        self.assertEqual(runs["aws:aws-job-8"]["compliance_flop"], str(2 * aws_figure))
        for name, m in names.items():
            show = self.json_of("ledger", "show", name)
            self.assertValid(show, f"ledger show {name}")
            self.assertEqual(show["model"], m, name)
            self.assertEqual([r["run_id"] for r in show["runs"]], m["runs"], name)
            # A base's own compute is its pretraining (0 when unknown), a derived model's its runs.
            own = (int(m["pretraining"]["flop"] or 0) if m["kind"] == "base" else
                   sum(int(runs[r]["compliance_flop"]) for r in m["runs"]))
            self.assertEqual(m["own_compute"]["known_part"], str(own), name)
        self.assertFalse(names["acme/myst"]["cumulative_compute"]["complete"], "a base of unknown compute")
        self.assertEqual(names["acme/merged"]["cumulative_compute"]["flop"],
                         str(3 * 10**22 + sum(int(runs[r]["compliance_flop"]) for r in runs if r in
                                              names["acme/sft"]["runs"] + names["acme/sft2"]["runs"] +
                                              names["acme/old"]["runs"])))
        sft = self.json_of("ledger", "show", "acme/sft")
        self.assertEqual([(a["about"], a["text"]) for a in sft["annotations"]], [(self.sft_run, "checked by QA")])
        self.assertEqual(len(self.json_of("ledger", "show", "acme/merged")["estimates"]), 1)

    def test_runs(self):
        every = self.json_of("ledger", "runs")
        self.assertValid(every, "ledger runs")
        self.assertEqual(len(every["runs"]), 5)
        one = self.json_of("ledger", "runs", "acme/sft2")
        self.assertValid(one, "ledger runs acme/sft2")
        self.assertEqual([r["model"] for r in one["runs"]], ["acme/sft2"])
        self.assertEqual([r["imported"] for r in every["runs"] if r["status"] == "imported"], [True, True])

    def test_lineages(self):
        for name in ("acme/merged", "acme/sft", "acme/myst", "ex/base"):
            lineage = self.json_of("ledger", "lineage", name)
            self.assertValid(lineage, f"ledger lineage {name}")
            self.assertEqual(lineage["nodes"][0]["name"], name)
            self.assertEqual(lineage["warnings"], self.json_of("ledger", "models")["warnings"])
            self.assertIn("eu_modification", [r["id"] for r in lineage["regimes"]])
        merged = self.json_of("ledger", "lineage", "acme/merged")
        self.assertEqual(sorted(n["name"] for n in merged["nodes"]),
                         ["acme/merged", "acme/old", "acme/sft", "acme/sft2", "ex/base"], "the base once")
        self.assertEqual(merged["modification"]["originals"], ["ex/base"])
        self.assertIsNotNone(merged["modification"]["single_run_reading"], "three runs: the single-run reading")

    def test_head_verify_prove(self):
        head = json.loads(self.run_cli("ledger", "head"))
        self.assertValid(head, "ledger head")
        self.assertEqual(json.loads(self.run_cli("ledger", "head", "--json")), head, "JSON with or without --json")
        held = os.path.join(self.dir, "head.json")
        with open(held, "w", encoding="utf-8") as f:
            json.dump(head, f)
        verified = self.json_of("ledger", "verify")
        self.assertValid(verified, "ledger verify")
        self.assertTrue(verified["ok"])
        self.assertEqual((verified["entries"], verified["root"]), (head["size"], head["root"]))
        extended = self.json_of("ledger", "verify", "--head", held)
        self.assertValid(extended, "ledger verify --head")
        self.assertTrue(extended["extends_held_head"]["extended"])
        for index in range(head["size"]):
            proof = json.loads(self.run_cli("ledger", "prove", str(index)))
            self.assertValid(proof, f"ledger prove {index}")
            self.assertEqual(proof["leaf_hash"], hashlib.sha256(b"\0" + proof["entry"].encode()).hexdigest())
            path = os.path.join(self.dir, f"proof-{index}.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(proof, f)
            checked = self.json_of("verify-proof", path, "--trusted-key", head["key_id"])
            self.assertValid(checked, f"verify-proof {index}")
            self.assertTrue(checked["ok"])
            self.assertEqual((checked["index"], checked["leaf_hash"], checked["trusted_key_id"]),
                             (index, proof["leaf_hash"], head["key_id"]))
        # An altered proof: a failed check, still a document of the schema (exit 1).
        proof["entry"] = proof["entry"].replace("Acme", "Acne", 1) if "Acme" in proof["entry"] else proof["entry"] + " "
        with open(path, "w", encoding="utf-8") as f:
            json.dump(proof, f)
        failed = self.json_of("verify-proof", path, status=1)
        self.assertValid(failed, "verify-proof of an altered proof")
        self.assertFalse(failed["ok"])
        self.assertIn("audit path", failed["problem"])

    def test_verify_of_a_tampered_copy(self):
        copy_path = os.path.join(self.dir, "tampered.sqlite")
        with sqlite3.connect(self.ledger) as source, sqlite3.connect(copy_path) as target:
            source.backup(target)
        with sqlite3.connect(copy_path) as db:
            db.execute("UPDATE ledger_entries SET entry = replace(entry, 'checked by QA', 'checked by QB') "
                       "WHERE kind = 'annotation'")
        held = os.path.join(self.dir, "head-before.json")
        with open(held, "w", encoding="utf-8") as f:
            f.write(self.run_cli("ledger", "head"))
        tampered = self.json_of("ledger", "verify", "--head", held, status=1, ledger=copy_path)
        self.assertValid(tampered, "ledger verify of a tampered copy")
        self.assertFalse(tampered["ok"])
        annotation = next(d["entry"] for d in self.appended if d["what"].startswith("a note about entry "
                                                                                    f"{self.sft_run}"))
        self.assertEqual(tampered["first_bad_entry"], annotation)
        self.assertTrue(all(f"entry {p['entry']}" in p["problem"] for p in tampered["problems"]))

    # -- the schemas refuse what a reader must refuse ------------------------

    def test_zz_every_schema_is_exercised_and_refuses_bad_edits(self):
        # Named to run last (unittest sorts by name): the documents above are in self.seen.
        for sid in SCHEMA_FILES:
            self.assertTrue(sid in self.seen, f"no document of {sid} was validated")
        sample = {sid: docs[0] for sid, docs in self.seen.items()}
        failed_verify = next(d for d in self.seen["flopsmeter.ledger_verify/1"] if not d["ok"])
        failed_check = next(d for d in self.seen["flopsmeter.proof_check/1"] if not d["ok"])
        # A metered run: the runs are listed by id, and an imported AWS record's id may sort first.
        first_run = next(r for r in self.json_of("ledger", "runs")["runs"] if not r["imported"])
        models = self.json_of("ledger", "models")
        merged = self.json_of("ledger", "lineage", "acme/merged")

        def refused(doc, change, what):
            edited = copy.deepcopy(doc)
            change(edited)
            self.assertInvalid(doc["schema"], edited, what)

        def put(path, value):
            def change(d):
                for key in path[:-1]:
                    d = d[key]
                d[path[-1]] = value
            return change

        for sid, doc in sample.items():
            refused(doc, put(["schema"], sid[:-1] + "2"), "another version's id")
            refused(doc, put(["unexpected"], 1), "an unknown key")
            for key in doc:
                if key != "schema":
                    refused(doc, lambda d, k=key: d.pop(k), f"no {key}")
        append = sample["flopsmeter.ledger_append/1"]
        refused(append, put(["entry"], -1), "a negative entry")
        refused(append, put(["entry"], "3"), "an entry as a string")
        refused(append, put(["head", "root"], append["head"]["root"].upper()), "an upper-case root")
        refused(append, put(["head", "signature"], append["head"]["signature"][:64]), "a short signature")
        refused(append, put(["head", "key_id"], "rsa:" + append["head"]["key_id"][8:]), "another key kind")
        refused(append, put(["head", "time"], "2026-12-07 05:50:29"), "a time without milliseconds and zone")
        refused(append, lambda d: d["head"].pop("public_key"), "a head without its public key")
        refused(append, put(["notes"], [1]), "a note that is not text")
        model = models["models"][0]
        base = next(m for m in models["models"] if m["kind"] == "base")
        derived = next(m for m in models["models"] if m["kind"] == "derived")
        for edit, what in [(put(["kind"], "merged"), "an unknown kind"),
                           (put(["own_compute", "flop"], 0), "a FLOP figure as a number"),
                           (put(["own_compute", "flop"], "0600"), "a decimal with a leading zero"),
                           (put(["own_compute", "flop"], "6e11"), "a decimal with an exponent"),
                           (put(["own_compute", "complete"], False), "an incomplete sum with a figure")]:
            refused({"schema": models["schema"], "models": [model], "warnings": []}, lambda d, e=edit: e(d["models"][0]),
                    what)
        wrap = lambda m: {"schema": models["schema"], "models": [m], "warnings": []}  # noqa: E731
        self.assertTrue(self.validators[models["schema"]].is_valid(wrap(base)))
        refused(wrap(base), lambda d: d["models"][0].update(parents=["x"]), "a base with parents")
        refused(wrap(base), lambda d: d["models"][0]["pretraining"].update(status="rumoured"), "an unknown status")
        refused(wrap(base), lambda d: d["models"][0]["pretraining"].update(status="unknown"),
                "an unknown pretraining compute with a figure")
        refused(wrap(derived), lambda d: d["models"][0].update(parents=[]), "a derived model without parents")
        refused(wrap(derived), put(["warnings"], [{"entry": 1}]), "a warning that is not text")
        runs = {"schema": "flopsmeter.ledger_runs/1", "runs": [first_run]}
        self.assertTrue(self.validators[runs["schema"]].is_valid(runs))
        refused(runs, lambda d: d["runs"][0].update(status="imported"), "a metered run marked imported")
        refused(runs, lambda d: d["runs"][0].update(imported=True), "an imported run with the record's status")
        refused(runs, lambda d: d["runs"][0].update(compliance_flop=1.0), "a figure as a number")
        refused(runs, lambda d: d["runs"][0].update(formula="6nd"), "an unknown formula")
        refused(merged, lambda d: d["regimes"][0].pop("threshold_rational"), "a regime without its machine form")
        refused(merged, lambda d: d["regimes"][0].update(verdict="maybe"), "an unknown verdict")
        refused(merged, put(["nodes"], []), "a lineage without nodes")
        refused(merged, lambda d: d["modification"]["single_run_reading"].update(verdict="high"), "an unknown verdict")
        ok = next(d for d in self.seen["flopsmeter.ledger_verify/1"] if d["ok"])
        refused(ok, put(["problems"], [{"entry": 3, "problem": "changed"}]), "ok with a problem")
        refused(ok, put(["first_bad_entry"], 3), "ok with a first bad entry")
        refused(failed_verify, lambda d: d.update(problems=[], held_head_problems=[]), "not ok, and no problem")
        refused(failed_verify, put(["ok"], True), "ok with problems")
        refused(failed_verify, put(["ledger_id"], "ledger-1"), "a ledger id of another form")
        proof = sample["flopsmeter.inclusion_proof/1"]
        refused(proof, put(["path"], [proof["leaf_hash"][:63]]), "a short hash in the path")
        refused(proof, put(["tree_size"], 0), "a proof under an empty tree")
        refused(failed_check, put(["ok"], True), "ok with a problem")
        refused(failed_check, put(["problem"], None), "a failed check without its problem")
        refused(sample["flopsmeter.proof_check/1"], put(["message"], None), "ok without its message")


if __name__ == "__main__":
    unittest.main()

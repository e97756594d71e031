"""flopsmeter.Ledger and the meter's own appends, over the real libflopsmeter:
a SQLite ledger in a scratch directory, runs metered with real torch
batches (tiny_llama), the Hugging Face callback driven by emulated_trainer.

Run: FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so PYTHONPATH=python:tests/python \
     python3 -m unittest test_ledger
"""

import gc
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import types
import unittest
from fractions import Fraction
from unittest import mock

import torch

import flopsmeter
import tiny_llama
from emulated_trainer import Trainer, rows_of, training_arguments
from flopsmeter import hf

torch.set_num_threads(1)  # children are forked (see test_meter)
FORK = multiprocessing.get_context("fork")

# What the library reads from the environment; cleared so each test sees
# only what it sets.
LIBRARY_ENVIRONMENT = ("FLOPSMETER_LEDGER", "FLOPSMETER_LEDGER_KEY", "FLOPSMETER_ORGANISATION", "FLOPS_METER_OUT",
                       "PRETRAIN_FLOPS", "FLOPS_METER_NVML", "FLOPS_METER_RUN_DIR", "FLOPS_METER_RUN_ID",
                       "TRAINING_JOB_NAME", "RANK", "WORLD_SIZE", "LOCAL_RANK")
BASE_FLOP = 3 * 10**23
TOKENIZER = types.SimpleNamespace(pad_token_id=tiny_llama.PAD_ID, eos_token_id=tiny_llama.EOS_ID)


def compliance(record):
    return int(record["compliance"]["exact"])


def eu_modification_threshold(record):
    [regime] = [r for r in record["regimes"] if r["id"] == "eu_modification"]
    return Fraction(int(regime["threshold_rational"]["num"]), int(regime["threshold_rational"]["den"]))


def metered(run_dir, batches, **options):
    """A run of tiny_llama's parameters over `batches`, one step each; its record."""
    with flopsmeter.Meter(run_dir, n_total=tiny_llama.PARAMETERS, n_trainable=tiny_llama.PARAMETERS,
                          journal_interval=3600, **options) as meter:
        for step, batch in enumerate(batches, 1):
            meter.add_batch(**batch)
            meter.step(step)
    with open(os.path.join(run_dir, "flops_meter.json"), encoding="utf-8") as f:
        return json.load(f)


def one_of_two_ranks(rank, port, run_dir, ledger_options, out):
    """One rank of a two-rank gloo job metering into one run directory with a
    ledger; writes the schema of what its end returned to OUT/rank<R>.json."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.distributed.init_process_group("gloo")
    meter = flopsmeter.Meter(run_dir, n_total=tiny_llama.PARAMETERS, n_trainable=tiny_llama.PARAMETERS, end_wait=20,
                             **ledger_options)
    for step, batch in enumerate(tiny_llama.padded_batches(2, seed=rank), 1):
        meter.add_batch(**batch)
        meter.step(step)
    record = meter.end()
    with open(os.path.join(out, f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump({"schema": record["schema"]}, f)
    torch.distributed.destroy_process_group()


class LedgerTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        environment = mock.patch.dict(os.environ)
        environment.start()
        self.addCleanup(environment.stop)
        for name in LIBRARY_ENVIRONMENT:
            os.environ.pop(name, None)
        # The per-user defaults, should anything fall back to them, stay in here.
        os.environ["XDG_CONFIG_HOME"] = self.path("config")
        os.environ["XDG_DATA_HOME"] = self.path("data")
        self.location = self.path("ledger.sqlite")
        self.key = self.path("keys", "ci.key")
        # What the meter needs to record in this ledger.
        self.recording = {"ledger": self.location, "ledger_key": self.key, "organisation": "Acme"}

    def path(self, *parts):
        return os.path.join(self.directory.name, *parts)

    def ledger(self, **options):
        ledger = flopsmeter.Ledger(self.location, **{"key": self.key, "organisation": "Acme", **options})
        self.addCleanup(ledger.close)
        return ledger

    def ledger_with_base(self, pretraining_flop=BASE_FLOP):
        ledger = self.ledger()
        ledger.keygen()
        ledger.add_model("base/b", organisation="Base", pretraining_flop=pretraining_flop,
                         pretraining_source="" if pretraining_flop is None else "its paper")
        return ledger

    def runs_of(self, ledger, model):
        return ledger.runs(model)["runs"]

    # --- the Ledger API --------------------------------------------------

    def test_a_lineage_is_registered_summed_verified_and_proved(self):
        ledger = self.ledger()
        with self.assertRaises(flopsmeter.FlopsMeterError) as refused:
            ledger.register_key()  # the key named is not made yet
        self.assertEqual(refused.exception.code, "FM_NOT_FOUND")
        self.assertIn(self.key, str(refused.exception))
        self.assertIn("ledger keygen", str(refused.exception))
        made = ledger.keygen()
        self.assertEqual(made["entry"], 0)
        self.assertEqual(os.stat(self.key).st_mode & 0o777, 0o600)
        ledger.add_model("base/b", organisation="Base", pretraining_flop=BASE_FLOP, pretraining_source="its paper")

        sft = metered(self.path("sft"), tiny_llama.padded_batches(3))
        with open(self.path("sft", "flops_meter.json"), encoding="utf-8") as f:
            sft_text = f.read()
        added = ledger.add_run(sft_text, produces="acme/sft", parent="base/b", run_dir=self.path("sft"))
        self.assertFalse(added["no_change"])
        dpo = metered(self.path("dpo"), tiny_llama.padded_batches(5, seed=1))
        with open(self.path("dpo", "flops_meter.json"), encoding="utf-8") as f:
            dpo_entry = ledger.add_run(f.read(), produces="acme/dpo", parent="acme/sft",
                                       how="preference tuning")["entry"]
        self.assertNotEqual(compliance(sft), compliance(dpo))  # a swapped figure would show

        lineage = ledger.lineage("acme/dpo")
        self.assertEqual(int(lineage["cumulative_compute"]["flop"]), BASE_FLOP + compliance(sft) + compliance(dpo))
        self.assertEqual(int(lineage["modification"]["own_compute"]["flop"]), compliance(sft) + compliance(dpo))
        self.assertEqual(lineage["modification"]["originals"], ["base/b"])
        self.assertEqual({m["name"] for m in ledger.models()["models"]}, {"base/b", "acme/sft", "acme/dpo"})
        self.assertEqual(ledger.model("acme/dpo")["schema"], "flopsmeter.ledger_model/1")
        self.assertEqual([r["run_id"] for r in self.runs_of(ledger, "acme/sft")], [sft["run_id"]])
        self.assertEqual({r["run_id"] for r in ledger.runs()["runs"]}, {sft["run_id"], dpo["run_id"]})
        basis = ledger.basis("acme/dpo")  # what a further run on it starts from
        self.assertEqual((int(basis["original_flop"]), int(basis["own_modifications_flop"])),
                         (BASE_FLOP, compliance(sft) + compliance(dpo)))
        # A correction that supersedes the DPO run takes it out of the sums; both entries stay.
        ledger.annotate(dpo_entry, "recorded against the wrong model", supersedes=True)
        self.assertEqual(int(ledger.lineage("acme/dpo")["cumulative_compute"]["flop"]), BASE_FLOP + compliance(sft))

        head = ledger.head()
        verified = ledger.verify(head=head, trusted_keys=[made["head"]["key_id"]])
        self.assertTrue(verified["ok"], verified["problems"])
        self.assertEqual(verified["entries"], head["size"])
        proof = ledger.prove(added["entry"])
        ledger.close()
        for suffix in ("", "-wal", "-shm"):  # no database: the proof stands alone
            if os.path.exists(self.location + suffix):
                os.remove(self.location + suffix)
        self.assertTrue(flopsmeter.verify_proof(proof).startswith(f"entry {added['entry']} is in ledger"))
        flopsmeter.verify_proof(json.dumps(proof), trusted_key=head["public_key"])

    def test_a_base_pretrained_by_a_metered_run_takes_its_measured_figure(self):
        ledger = self.ledger()
        ledger.keygen()
        pretraining = metered(self.path("pretrain"), tiny_llama.padded_batches(2))
        appended = ledger.add_model("lab/base", organisation="Lab", pretraining_run=self.path("pretrain"))
        self.assertFalse(appended["no_change"])
        shown = ledger.model("lab/base")["model"]["pretraining"]
        self.assertEqual(shown["status"], "measured")
        self.assertEqual(shown["flop"], pretraining["compliance"]["in_final_weights_exact"])
        self.assertIn(pretraining["run_id"], shown["source"])
        # A fine-tune of it compares against a third of that measured figure.
        record = metered(self.path("sft"), tiny_llama.padded_batches(1), ledger_model="lab/base",
                         ledger_produces="lab/sft", **self.recording)
        self.assertEqual(eu_modification_threshold(record), Fraction(int(shown["flop"]), 3))
        # An edited record is refused: its journals say otherwise.
        with open(self.path("pretrain", "flops_meter.json"), encoding="utf-8") as f:
            edited = json.load(f)
        edited["tokens_processed"] = int(edited["tokens_processed"]) + 1
        with open(self.path("pretrain", "flops_meter.json"), "w", encoding="utf-8") as f:
            json.dump(edited, f)
        with self.assertRaises(flopsmeter.FlopsMeterError) as refused:
            ledger.add_model("lab/edited", organisation="Lab", pretraining_run=self.path("pretrain"))
        self.assertIn("not what its journals", str(refused.exception))
        with self.assertRaises(ValueError):
            ledger.add_model("lab/both", pretraining_run=self.path("pretrain"), pretraining_flop=1)

    def test_a_merge_counts_a_shared_base_once(self):
        ledger = self.ledger_with_base()
        figures = []
        for name, seed in (("acme/math", 0), ("acme/code", 1)):
            record = metered(self.path(name.replace("/", "-")), tiny_llama.padded_batches(2 + seed, seed=seed),
                             ledger_model="base/b", ledger_produces=name, **self.recording)
            figures.append(compliance(record))
        ledger.add_model("acme/merged", parents=["acme/math", "acme/code"], how="merge")
        lineage = ledger.lineage("acme/merged")
        self.assertEqual(int(lineage["cumulative_compute"]["flop"]), BASE_FLOP + sum(figures))
        self.assertEqual({node["name"] for node in lineage["nodes"]},
                         {"base/b", "acme/math", "acme/code", "acme/merged"})

    def test_every_changed_character_of_a_proof_is_refused(self):
        ledger = self.ledger_with_base()
        text = json.dumps(ledger.prove(1))
        flopsmeter.verify_proof(text)
        accepted = []
        for at, character in enumerate(text):
            hex_digits = "0123456789abcdef"
            other = hex_digits[(hex_digits.index(character) + 1) % 16] if character in hex_digits else \
                ("y" if character != "y" else "z")
            try:
                flopsmeter.verify_proof(text[:at] + other + text[at + 1:])
                accepted.append(text[max(at - 20, 0):at + 1])
            except flopsmeter.FlopsMeterError:
                pass
        # The stated leaf_hash was once never compared with the entry's.
        self.assertEqual(accepted, [])

    def test_a_pretraining_figure_is_recorded_as_written(self):
        ledger = self.ledger()
        ledger.keygen()
        # 3e23 as a float is 300000000000000008388608 in binary; once recorded as int(3e23).
        for name, figure in (("float", 3e23), ("text", "3e23"), ("int", 3 * 10**23)):
            ledger.add_model(f"base/{name}", organisation="Base", pretraining_flop=figure, pretraining_source="s")
            self.assertEqual(ledger.model(f"base/{name}")["model"]["pretraining"]["flop"], str(3 * 10**23), name)
        with self.assertRaisesRegex(flopsmeter.FlopsMeterError, "not a whole number of FLOP"):
            ledger.add_model("base/half", organisation="Base", pretraining_flop=1.5, pretraining_source="s")

    def test_errors_are_raised_with_the_librarys_message(self):
        ledger = self.ledger_with_base()
        for call, code, message in (
                (lambda: ledger.lineage("nobody/none"), "FM_NOT_FOUND", "model 'nobody/none' is not in the ledger"),
                (lambda: ledger.add_model("acme/m", parents=["nobody/none"]), "FM_INVALID_ARGUMENT",
                 "its parent 'nobody/none' is not in the ledger"),
                (lambda: ledger.prove(99), "FM_NOT_FOUND", "entry 99 is not under the ledger's latest signed head"),
                (lambda: ledger.keygen(), "FM_INVALID_ARGUMENT", "a key is never written over"),
                (lambda: flopsmeter.verify_proof("garbage"), "FM_PARSE_ERROR", "not an inclusion proof")):
            with self.assertRaises(flopsmeter.FlopsMeterError) as raised:
                call()
            self.assertEqual(raised.exception.code, code)
            self.assertIn(message, str(raised.exception))
        size = ledger.head()["size"]
        self.assertEqual(ledger.verify()["entries"], size)  # the refusals wrote nothing

        ledger.close()
        with self.assertRaisesRegex(flopsmeter.FlopsMeterError, "the ledger is closed"):
            ledger.models()

    def test_a_refused_open_raises_and_leaves_nothing_behind(self):
        unraisable = []
        with mock.patch.object(sys, "unraisablehook", unraisable.append):
            with self.assertRaises(flopsmeter.FlopsMeterError) as refused:
                flopsmeter.Ledger(self.path("missing", "ledger.sqlite"), create=False)
            gc.collect()
        self.assertEqual(refused.exception.code, "FM_NOT_FOUND")
        self.assertIn(self.path("missing", "ledger.sqlite"), str(refused.exception))
        self.assertFalse(os.path.exists(self.path("missing")))
        # Its __del__ once met an object without its handle.
        self.assertEqual([str(u.exc_value) for u in unraisable], [])

    # --- the meter's appends ---------------------------------------------

    def test_the_meter_appends_its_record_at_end_once(self):
        ledger = self.ledger_with_base()
        record = metered(self.path("run"), tiny_llama.padded_batches(3), ledger_model="base/b",
                         ledger_produces="acme/sft", **self.recording)
        self.assertFalse([w for w in record["warnings"] if "ledger" in w], record["warnings"])
        runs = self.runs_of(ledger, "acme/sft")
        self.assertEqual([(r["run_id"], int(r["compliance_flop"])) for r in runs],
                         [(record["run_id"], compliance(record))])
        size = ledger.head()["size"]
        # The record as written is the one appended: adding it again is no change.
        with open(self.path("run", "flops_meter.json"), encoding="utf-8") as f:
            again = ledger.add_run(f.read(), produces="acme/sft", run_dir=self.path("run"))
        self.assertTrue(again["no_change"])
        self.assertEqual(again["entry"], runs[0]["entry"])
        self.assertEqual(ledger.head()["size"], size)
        # A meter freed without end (a crash, as far as the run knows) appends nothing.
        meter = flopsmeter.Meter(self.path("open"), n_total=tiny_llama.PARAMETERS, n_trainable=tiny_llama.PARAMETERS,
                                 ledger_model="base/b", ledger_produces="acme/open", **self.recording)
        meter.add_batch(**tiny_llama.padded_batches(1)[0])
        meter.flush()
        meter.close()
        self.assertEqual(ledger.head()["size"], size)

    def test_a_re_report_after_a_crash_supersedes_the_record(self):
        ledger = self.ledger_with_base()
        options = {"n_total": tiny_llama.PARAMETERS, "n_trainable": tiny_llama.PARAMETERS, "ledger_model": "base/b",
                   "ledger_produces": "acme/sft", **self.recording}
        first = tiny_llama.padded_batches(2)
        with self.assertRaises(RuntimeError):
            with flopsmeter.Meter(self.path("run"), **options) as meter:
                for batch in first:
                    meter.add_batch(**batch)
                meter.step(1)
                meter.checkpoint(1, "checkpoint-1")
                raise RuntimeError("CUDA out of memory")
        [failed] = self.runs_of(ledger, "acme/sft")
        self.assertEqual(failed["status"], "failed")

        more = tiny_llama.padded_batches(3, seed=1)
        with flopsmeter.Meter(self.path("run"), resume=True, resume_step=1, **options) as meter:
            for step, batch in enumerate(more, 2):
                meter.add_batch(**batch)
                meter.step(step)
        with open(self.path("run", "flops_meter.json"), encoding="utf-8") as f:
            record = json.load(f)
        [run] = self.runs_of(ledger, "acme/sft")  # one run: the later record in place of the earlier
        self.assertEqual((run["run_id"], run["status"], run["supersedes"]),
                         (failed["run_id"], "completed", failed["entry"]))
        self.assertGreater(compliance(record), int(failed["compliance_flop"]))
        # Counted once, as the later record has it.
        self.assertEqual(int(ledger.lineage("acme/sft")["cumulative_compute"]["flop"]), BASE_FLOP + compliance(record))
        self.assertTrue(ledger.verify()["ok"])

    def test_of_two_ranks_only_rank_0_appends(self):
        ledger = self.ledger_with_base()
        size = ledger.head()["size"]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        run_dir = self.path("run")
        options = {"ledger_model": "base/b", "ledger_produces": "acme/ddp", **self.recording}
        children = [FORK.Process(target=one_of_two_ranks, args=(rank, port, run_dir, options, self.directory.name))
                    for rank in (0, 1)]
        for child in children:
            child.start()
        for child in children:
            child.join(90)
        self.assertEqual([child.exitcode for child in children], [0, 0])
        schemas = []
        for rank in (0, 1):
            with open(self.path(f"rank{rank}.json"), encoding="utf-8") as f:
                schemas.append(json.load(f)["schema"])
        self.assertTrue(schemas[0].startswith("flopsmeter.run/"), schemas)
        self.assertEqual(schemas[1], "flopsmeter.rank_end/1")
        with open(os.path.join(run_dir, "flops_meter.json"), encoding="utf-8") as f:
            record = json.load(f)
        self.assertEqual((record["ranks"]["journals"], record["ranks"]["world_size"]), (2, 2))
        runs = self.runs_of(ledger, "acme/ddp")
        self.assertEqual([(r["run_id"], int(r["compliance_flop"])) for r in runs],
                         [(record["run_id"], compliance(record))])
        self.assertEqual(ledger.head()["size"], size + 2)  # the model and its run, once

    def test_flopsmeter_ledger_in_the_environment_selects_the_ledger(self):
        ledger = self.ledger_with_base()
        os.environ.update(FLOPSMETER_LEDGER=self.location, FLOPSMETER_LEDGER_KEY=self.key)
        with self.assertRaisesRegex(flopsmeter.FlopsMeterError, "needs its organisation"):
            flopsmeter.Meter(self.path("refused"), n_total=1000, n_trainable=1000)
        self.assertFalse(os.path.exists(self.path("refused")))  # refused before the run began

        os.environ["FLOPSMETER_ORGANISATION"] = "Acme"
        record = metered(self.path("run"), tiny_llama.padded_batches(2), ledger_model="base/b")
        # Without ledger-produces the model made is named after the parent and the run.
        produced = "base/b+" + record["run_id"][:12]
        self.assertEqual([r["run_id"] for r in self.runs_of(ledger, produced)], [record["run_id"]])
        with flopsmeter.Ledger() as from_environment:  # the API reads it too
            self.assertEqual(from_environment.head(), ledger.head())

    def test_ledger_model_counts_the_lineages_earlier_modifications(self):
        ledger = self.ledger_with_base(pretraining_flop=None)  # unknown: the threshold is 1e23/3
        options = {"n_total": 10**10, "n_trainable": 10**10, **self.recording}

        def run(name, tokens, **ledger_options):
            with flopsmeter.Meter(self.path(name), **options, **ledger_options) as meter:
                meter.add_counts(tokens, tokens, 1)
                meter.step(1)
            with open(self.path(name, "flops_meter.json"), encoding="utf-8") as f:
                return json.load(f)

        # Just below a third of 1e23 on its own, and so is the small run after it; together they cross it.
        earlier = run("sft", 555_550_000_000, ledger_model="base/b", ledger_produces="acme/sft")
        later = run("lora", 10**7, ledger_model="acme/sft", ledger_produces="acme/lora")
        [regime] = [r for r in later["regimes"] if r["id"] == "eu_modification"]
        threshold = eu_modification_threshold(later)
        total = compliance(earlier) + compliance(later)
        self.assertLess(compliance(earlier), threshold)
        self.assertLess(compliance(later), threshold)
        self.assertGreater(total, threshold)
        self.assertEqual(int(regime["compute_exact"]), total)
        self.assertEqual((regime["verdict"], regime["single_run_exceeds"]), ("exceeds", False))
        self.assertIn("own modifications since: 3.33e+22 FLOP", later["base_model_compute"]["source"])
        # The ledger says the same of the model the later run made.
        modification = ledger.lineage("acme/lora")["modification"]
        self.assertEqual(int(modification["own_compute"]["flop"]), total)
        self.assertEqual(modification["single_run_reading"]["verdict"], "below")

    def test_a_budget_fraction_on_a_derived_model_guards_the_lineages_sum(self):
        self.ledger_with_base(pretraining_flop=None)
        options = {"n_total": 10**10, "n_trainable": 10**10, **self.recording}
        with flopsmeter.Meter(self.path("sft"), ledger_model="base/b", ledger_produces="acme/sft", **options) as meter:
            meter.add_counts(10**11, 10**11, 1)
            meter.step(1)
        with open(self.path("sft", "flops_meter.json"), encoding="utf-8") as f:
            record = json.load(f)
        with flopsmeter.Meter(self.path("lora"), ledger_model="acme/sft", budget_fraction=0.9, **options) as meter:
            meter.add_counts(10**6, 10**6, 1)
            state = meter.step(1, figures=True)
        self.assertEqual(Fraction(int(state["budget_flop"])),
                         Fraction(9, 10) * eu_modification_threshold(record) - compliance(record))

    # --- the Hugging Face callback ---------------------------------------

    def train(self, callback, name):
        args = training_arguments(self.path(name), gradient_accumulation_steps=2)
        Trainer(tiny_llama.lora_wrap(tiny_llama.TinyLlama()), args, rows_of(tiny_llama.padded_batches(4)),
                callbacks=[callback], processing_class=TOKENIZER).train()
        return callback.record

    def test_the_hf_callback_appends_its_record(self):
        ledger = self.ledger_with_base()
        record = self.train(hf.FlopsMeterCallback(ledger_model="base/b", ledger_produces="acme/hf", **self.recording),
                            "hf")
        self.assertEqual(record["status"], "completed")
        self.assertEqual([(r["run_id"], int(r["compliance_flop"])) for r in self.runs_of(ledger, "acme/hf")],
                         [(record["run_id"], compliance(record))])

        # No ledger-model: the model the run trains, named by its Hub id (the
        # recipe's model_name_or_path; a model's own config._name_or_path),
        # which the callback hands over beside its config.json. Once ignored,
        # since the library counts such a model from the file, not the catalog.
        callback = hf.maybe_callback({"model_name_or_path": "base/b", "compute_flops": True}, **self.recording)
        record = self.train(callback, "named")
        self.assertEqual(record["model_name"], "base/b")
        self.assertEqual([r["run_id"] for r in self.runs_of(ledger, "base/b+" + record["run_id"][:12])],
                         [record["run_id"]])

        # A model that is neither in the ledger nor in the catalog, no
        # ledger-model: the run still ends, its record says why it is not in
        # the ledger, and the ledger is unchanged.
        size = ledger.head()["size"]
        record = self.train(hf.FlopsMeterCallback(**self.recording), "unnamed")
        self.assertEqual(record["status"], "completed")
        self.assertTrue([w for w in record["warnings"] if "could not be appended to the ledger" in w and
                         "ledger-model" in w], record["warnings"])
        self.assertEqual(ledger.head()["size"], size)


if __name__ == "__main__":
    unittest.main()

"""flops_meter.json against schemas/flops_meter.schema.json, on real records.

Records are produced by the C ABI (through ctypes, no Python package) and by
the CLI (`flopsmeter report --run DIR --json`) in several scenarios: catalog
model with sequence lengths, counts only, known base compute, budgets, a
crashed run, a resumed run, two ranks in separate processes, GPU sampling
through the fake NVML library, and `flopsmeter watch` reading a job's token
files. Each is validated; then edits a reader must
not accept (an exact value as a number, an unknown key, a wrong status, ...)
are checked to be rejected.

Run: FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so FLOPSMETER_CLI=BUILD/flopsmeter \
     FM_FAKE_NVML=BUILD/tests/fake_nvml/libnvidia-ml-fake.so \
     PYTHONPATH=tests/python /usr/bin/python3 -m unittest test_record_schema
"""

import copy
import ctypes
import fractions
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import schema_check

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
SCHEMA_PATH = os.path.join(SOURCE_DIR, "schemas", "flops_meter.schema.json")

# Variables the meter reads from the environment (meter_options_from_environment):
# cleared so that the job running the tests cannot change the records.
METER_ENVIRONMENT = ("PRETRAIN_FLOPS", "FLOPS_METER_NVML", "FLOPS_METER_OUT", "FLOPS_METER_PEAK_FLOPS",
                     "FLOPS_METER_NVML_LIBRARY", "RANK", "WORLD_SIZE", "LOCAL_RANK", "CUDA_VISIBLE_DEVICES",
                     "TRAINING_JOB_NAME", "FAKE_NVML_SCRIPT")

# Two GPUs for the fake NVML: one with an energy counter, one without (power integral).
FAKE_GPUS = (
    "driver=550.54.15\n"
    "name=NVIDIA H100 80GB HBM3 | uuid=GPU-aaaa | sm_clock=1755 | max_sm_clock=1980 | util=80 | power_mw=650000"
    " | energy_mj_per_s=650000 | pids=self | cc=9.0 | sm_count=132\n"
    "name=NVIDIA A100-SXM4-80GB | uuid=GPU-bbbb | sm_clock=1410 | max_sm_clock=1410 | util=40 | power_mw=300000"
    " | energy_mj_per_s=unsupported | pids=self | cc=8.0 | sm_count=108\n"
)


def clean_environment():
    env = dict(os.environ)
    for name in METER_ENVIRONMENT:
        env.pop(name, None)
    return env


class Native:
    """The C ABI (include/flopsmeter/c_api.h) through ctypes."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        out = ctypes.POINTER(ctypes.c_void_p)
        lib.fm_meter_begin.argtypes = [ctypes.c_char_p, out, out]
        lib.fm_meter_begin.restype = ctypes.c_int
        u64 = ctypes.c_uint64
        lib.fm_meter_add.argtypes = [ctypes.c_void_p, u64, u64, u64]
        lib.fm_meter_add.restype = None
        lib.fm_meter_add_sequences.argtypes = [ctypes.c_void_p, u64, u64]
        lib.fm_meter_add_sequences.restype = None
        lib.fm_meter_step.argtypes = [ctypes.c_void_p, u64, out, out]
        lib.fm_meter_step.restype = ctypes.c_int
        lib.fm_meter_checkpoint.argtypes = [ctypes.c_void_p, u64, ctypes.c_char_p, out]
        lib.fm_meter_checkpoint.restype = ctypes.c_int
        lib.fm_meter_flush.argtypes = [ctypes.c_void_p, out]
        lib.fm_meter_flush.restype = ctypes.c_int
        lib.fm_meter_end.argtypes = [ctypes.c_void_p, ctypes.c_char_p, out, out]
        lib.fm_meter_end.restype = ctypes.c_int
        lib.fm_meter_free.argtypes = [ctypes.c_void_p]
        lib.fm_meter_free.restype = None
        lib.fm_report_run.argtypes = [ctypes.c_char_p, ctypes.c_char_p, out, out]
        lib.fm_report_run.restype = ctypes.c_int
        lib.fm_free.argtypes = [ctypes.c_void_p]
        lib.fm_free.restype = None
        self.lib = lib

    def take(self, pointer):
        """The malloc'd string at `pointer` (a c_void_p), freed."""
        if not pointer.value:
            return None
        text = ctypes.string_at(pointer.value).decode("utf-8")
        self.lib.fm_free(pointer)
        return text

    def check(self, code, error, what):
        message = self.take(error)
        if code != 0:
            raise RuntimeError(f"{what}: status {code}: {message}")

    def begin(self, options):
        handle, error = ctypes.c_void_p(), ctypes.c_void_p()
        code = self.lib.fm_meter_begin(json.dumps(options).encode(), ctypes.byref(handle), ctypes.byref(error))
        self.check(code, error, "fm_meter_begin")
        return NativeMeter(self, handle)

    def report_run(self, run_dir, options=None):
        record, error = ctypes.c_void_p(), ctypes.c_void_p()
        code = self.lib.fm_report_run(run_dir.encode(), json.dumps(options).encode() if options else None,
                                      ctypes.byref(record), ctypes.byref(error))
        self.check(code, error, "fm_report_run")
        return json.loads(self.take(record))


class NativeMeter:
    def __init__(self, native, handle):
        self.native, self.lib, self.handle = native, native.lib, handle

    def add(self, tokens, positions, micro_batches=1):
        self.lib.fm_meter_add(self.handle, tokens, positions, micro_batches)

    def add_sequences(self, length, count):
        self.lib.fm_meter_add_sequences(self.handle, length, count)

    def step(self, global_step):
        state, error = ctypes.c_void_p(), ctypes.c_void_p()
        code = self.lib.fm_meter_step(self.handle, global_step, ctypes.byref(state), ctypes.byref(error))
        self.native.check(code, error, "fm_meter_step")
        return json.loads(self.native.take(state))

    def checkpoint(self, global_step, path):
        error = ctypes.c_void_p()
        code = self.lib.fm_meter_checkpoint(self.handle, global_step, path.encode(), ctypes.byref(error))
        self.native.check(code, error, "fm_meter_checkpoint")

    def flush(self):
        error = ctypes.c_void_p()
        self.native.check(self.lib.fm_meter_flush(self.handle, ctypes.byref(error)), error, "fm_meter_flush")

    def end(self, end=None):
        record, error = ctypes.c_void_p(), ctypes.c_void_p()
        code = self.lib.fm_meter_end(self.handle, json.dumps(end).encode() if end else None, ctypes.byref(record),
                                     ctypes.byref(error))
        self.native.check(code, error, "fm_meter_end")
        text = self.native.take(record)
        self.lib.fm_meter_free(self.handle)
        self.handle = None
        return json.loads(text)


def train(meter, steps, tokens=900, positions=1024, length=512, rows=2, first_step=1, checkpoint_at=None):
    """`steps` optimizer steps of one micro-batch: `rows` sequences of `length`
    positions, `tokens` of them not padding. Returns the last step's state."""
    state = None
    for step in range(first_step, first_step + steps):
        meter.add(tokens, positions, 1)
        meter.add_sequences(length, rows)
        state = meter.step(step)
        if checkpoint_at is not None and step == checkpoint_at:
            meter.checkpoint(step, f"checkpoint-{step}")
        if state["stop"]:
            break
    return state


def child_main(spec):
    """A separate training process (argv: child SPEC_JSON): begins, trains and
    then ends, or dies without ending ("exit": os._exit, "kill": SIGKILL)."""
    meter = Native(spec["library"]).begin(spec["options"])
    train(meter, spec["steps"], checkpoint_at=spec.get("checkpoint_at"), tokens=spec.get("tokens", 900))
    if spec["finish"] == "end":
        record = meter.end({"status": "completed", "global_step": spec["steps"]})
        with open(spec["result"], "w", encoding="utf-8") as f:
            json.dump(record, f)
        return
    meter.flush()
    if spec["finish"] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(1)


class RecordSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        library = os.environ.get("FLOPSMETER_LIBRARY")
        cli = os.environ.get("FLOPSMETER_CLI")
        if not library or not os.path.exists(library):
            raise unittest.SkipTest("FLOPSMETER_LIBRARY is not set to the built libflopsmeter.so")
        if not cli or not os.path.exists(cli):
            raise unittest.SkipTest("FLOPSMETER_CLI is not set to the built flopsmeter")
        cls.library, cls.cli = library, cli
        fake = os.environ.get("FM_FAKE_NVML") or os.path.join(os.path.dirname(library), "tests", "fake_nvml",
                                                              "libnvidia-ml-fake.so")
        cls.fake_nvml = fake if os.path.exists(fake) else None
        cls.saved_environment = {name: os.environ.pop(name) for name in METER_ENVIRONMENT if name in os.environ}
        cls.native = Native(library)
        # schema_check imports jsonschema only here, not at the top: the child
        # processes this file also runs as need only ctypes, and jsonschema
        # takes seconds to import on a loaded machine.
        cls.validator = schema_check.validator(os.path.basename(SCHEMA_PATH))
        cls.directories = []

    @classmethod
    def tearDownClass(cls):
        for d in cls.directories:
            shutil.rmtree(d, ignore_errors=True)
        os.environ.update(cls.saved_environment)

    # -- helpers ---------------------------------------------------------

    def new_dir(self):
        d = tempfile.mkdtemp(prefix="fm-schema-")
        type(self).directories.append(d)
        return d

    def assertValid(self, record, what=""):
        errors = schema_check.schema_errors(self.validator, record)
        if errors:
            self.fail(f"{what}: the record does not match the schema:\n" + "\n".join(errors))
        self.assertConsistent(record, what)

    def assertInvalid(self, record, what):
        self.assertFalse(self.validator.is_valid(record), f"the schema accepts {what}")

    def assertConsistent(self, r, what):
        """Relations the schema cannot state (figures repeated in several places)."""
        self.assertEqual(r["exact"]["tokens_processed"], r["tokens"]["spent"]["tokens"], what)
        self.assertEqual(r["exact"]["Flops_architecture"], r["flops_exact"]["peft_aware"], what)
        self.assertEqual(r["exact"]["compliance_flop"], r["compliance"]["exact"], what)
        self.assertEqual(r["exact"]["threshold_value"], r["eu_modification_threshold"]["threshold_exact"], what)
        self.assertEqual(r["threshold_type"], r["eu_modification_threshold"]["basis"], what)
        self.assertEqual(r["gpu_size"], r["ranks"]["world_size"], what)
        self.assertEqual(r["Flops_hardware"], r["hardware"]["bound_flop"], what)
        self.assertEqual(r["Flops_original"], r["base_model_compute"]["flop"], what)
        self.assertCorrectlyRounded(r, what)
        self.assertThresholdForms(r, what)
        if not r["verdict"]["determined"]:
            # An undetermined run shows no figure of its own: null, never 0.
            figures = [r["Flops_architecture"], r["compliance"]["flop"], r["compliance"]["exact"],
                       r["exact"]["compliance_flop"]] + [r["flops"][k] for k in ("eu_6nd", "peft_aware", "detailed")]
            self.assertEqual(figures, [None] * len(figures), what)
            self.assertTrue(r["verdict"]["undetermined_reason"], what)
            return
        n_total, n_trainable, d = r["N_total"], r["N_trainable"], int(r["exact"]["tokens_processed"])
        self.assertEqual(int(r["flops_exact"]["eu_6nd"]), 6 * n_total * d, what)
        self.assertEqual(int(r["flops_exact"]["peft_aware"]), (4 * n_total + 2 * n_trainable) * d, what)
        formula = r["compliance"]["formula"]
        if formula == "detailed":
            self.assertEqual(r["compliance"]["exact"], r["flops_exact"]["detailed"], what)
        else:
            self.assertEqual(r["compliance"]["exact"], r["flops_exact"][formula], what)
        eu = [g for g in r["regimes"] if g["id"] == "eu_modification"]
        self.assertEqual(len(eu), 1, what)
        self.assertEqual(r["exceeds_30pct"], eu[0]["exceeds"], what)
        self.assertEqual(eu[0]["threshold_exact"], r["exact"]["threshold_value"], what)
        if r["Flops_original"] is not None:
            base = int(r["base_model_compute"]["exact"])
            self.assertAlmostEqual(r["pct_of_pretrain"], 100.0 * int(r["compliance"]["exact"]) / base,
                                   delta=1e-9 * max(1.0, r["pct_of_pretrain"]), msg=what)
            self.assertNotEqual(r["threshold_value"], r["Flops_original"], what)  # AWS defect 3
        spent, kept = r["tokens"]["spent"], r["tokens"]["in_final_weights"]
        not_in = int(r["tokens"]["not_in_final_weights"])
        self.assertEqual(not_in, int(spent["tokens"]) - int(kept["tokens"]), what)
        if r["ranks"]["journals"] == r["ranks"]["world_size"]:  # else an all-reduce may stand in
            self.assertEqual(sum(int(s["spent"]["tokens"]) for s in r["segments"]), int(spent["tokens"]), what)
            self.assertEqual(sum(int(s["not_in_final_weights"]["tokens"]) for s in r["segments"]), not_in, what)
        micro_batches_known = r["tokens"]["source"] == "meter"
        for counts in [spent, kept] + [s["spent"] for s in r["segments"]]:
            self.assertEqual(counts["micro_batches"] is not None, micro_batches_known, what)
        if r["budget"] is not None:
            budget = r["budget"]
            self.assertEqual(budget["stopped_by_budget"], r["status"] == "stopped_by_budget", what)
            if budget["fraction_exact"] is not None:
                self.assertEqual(float(budget["fraction_exact"]), budget["fraction"], what)
                threshold = r["exact"]["threshold_value_rational"]
                exact_budget = fractions.Fraction(budget["fraction_exact"]) * fractions.Fraction(
                    int(threshold["num"]), int(threshold["den"]))
                self.assertEqual(int(budget["budget_exact"]), exact_budget.numerator // exact_budget.denominator, what)
            for event in budget["events"]:
                self.assertIn(event["kind"], ("budget_warning", "budget_stop", "budget_exceeded",
                                              "budget_bound_exceeded"), what)
        for event in r["events"]:
            self.assertFalse(event["kind"].startswith("budget_"), what)
        ranks_with_gpus = [g["rank"] for g in r["hardware"]["gpus"]]
        self.assertEqual(r["gpu_rank"], min(ranks_with_gpus) if ranks_with_gpus else None, what)
        self.assertNotIn("command", r["provenance"]["options"], what)

    def assertCorrectlyRounded(self, r, what):
        """Every number beside an exact integer is that integer correctly rounded
        (Python's float(int) rounds to nearest, ties to even)."""
        pairs = [(r["tokens_processed"], r["exact"]["tokens_processed"]),
                 (r["Flops_architecture"], r["exact"]["Flops_architecture"]),
                 (r["compliance"]["flop"], r["compliance"]["exact"]),
                 (r["compliance"]["in_final_weights_flop"], r["compliance"]["in_final_weights_exact"]),
                 (r["Flops_original"], r["base_model_compute"]["exact"]),
                 (r["base_model_compute"]["flop"], r["base_model_compute"]["exact"])]
        pairs += [(r["flops"][name], r["flops_exact"][name]) for name in ("eu_6nd", "peft_aware", "detailed")]
        for regime in r["regimes"]:
            pairs += [(regime["compute_flop"], regime["compute_exact"]),
                      (regime["headroom_flop"], regime["headroom_exact"]),
                      (regime["headroom_tokens"], regime["headroom_tokens_exact"])]
        if r["budget"] is not None:
            pairs.append((r["budget"]["budget_flop"], r["budget"]["budget_exact"]))
        for number, exact in pairs:
            if exact is None:
                self.assertIsNone(number, what)
            else:
                self.assertEqual(number, float(int(exact)), f"{what}: {exact}")

    def assertThresholdForms(self, r, what):
        """The machine {num, den} is in lowest terms and agrees with the readable
        Fraction::to_string() text."""
        threshold = r["eu_modification_threshold"]
        forms = [(r["exact"]["threshold_value"], r["exact"]["threshold_value_rational"]),
                 (threshold["threshold_exact"], threshold["threshold_rational"])]
        forms += [(regime["threshold_exact"], regime["threshold_rational"]) for regime in r["regimes"]]
        for text, rational in forms:
            num, den = int(rational["num"]), int(rational["den"])
            self.assertEqual(fractions.Fraction(num, den).denominator, den, what)
            self.assertEqual(text.split(" ")[0], str(num) if den == 1 else f"{num}/{den}", what)

    def begin(self, run_dir, **options):
        return self.native.begin({"run": run_dir, "journal-interval": 3600, **options})

    def cli_report(self, run_dir):
        done = subprocess.run([self.cli, "report", "--run", run_dir, "--json"], capture_output=True, text=True,
                              timeout=60, env=clean_environment())
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def read_record(self, run_dir):
        with open(os.path.join(run_dir, "flops_meter.json"), encoding="utf-8") as f:
            return json.load(f)

    def child(self, options, steps, finish, checkpoint_at=None, tokens=900, wait=True):
        result = os.path.join(self.new_dir(), "record.json")
        spec = {"library": self.library, "options": {"journal-interval": 3600, **options}, "steps": steps,
                "finish": finish, "checkpoint_at": checkpoint_at, "result": result, "tokens": tokens}
        process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "child", json.dumps(spec)],
                                   env=clean_environment(), stderr=subprocess.PIPE, text=True)
        process.result_path = result
        if wait:
            self.finish_child(process, finish)
        return process

    def finish_child(self, process, finish):
        _, stderr = process.communicate(timeout=60)
        expected = {"end": 0, "exit": 1, "kill": -signal.SIGKILL}[finish]
        self.assertEqual(process.returncode, expected, stderr)
        if finish == "end":
            with open(process.result_path, encoding="utf-8") as f:
                return json.load(f)
        return None

    def all_views(self, run_dir, ended_record=None):
        """The record as end() returned it, as written, as fm_report_run and the CLI rebuild it."""
        views = {"flops_meter.json": self.read_record(run_dir), "fm_report_run": self.native.report_run(run_dir),
                 "flopsmeter report": self.cli_report(run_dir)}
        if ended_record is not None:
            views["fm_meter_end"] = ended_record
        for name, record in views.items():
            self.assertValid(record, name)
        return views

    # -- scenarios -------------------------------------------------------

    def test_catalog_model_with_sequences_and_aws_fields(self):
        run = self.new_dir()
        recipe = os.path.join(self.new_dir(), "recipe.yaml")
        with open(recipe, "w", encoding="utf-8") as f:
            f.write("model_name_or_path: gpt2\ncompute_flops: true\nnum_train_epochs: 3\n")
        dataset = os.path.join(self.new_dir(), "train.jsonl")
        with open(dataset, "w", encoding="utf-8") as f:
            f.write('{"text": "hello"}\n')
        meter = self.begin(run, model="gpt2", epochs=3, **{
            "model-name": "gpt2-sft", "job-name": "job-1", "training-id": "t-1", "recipe": recipe,
            "recipe-details": {"lr": 2e-5, "epochs": 3}, "instance-type": "ml.p5.48xlarge",
            "model-package-group": "group-a", "dataset": [dataset], "command": ["train.py", "--epochs", "3"]})
        train(meter, 4)
        views = self.all_views(run, meter.end({"status": "completed", "global_step": 4}))
        for name, r in views.items():
            self.assertEqual(r["status"], "completed", name)
            self.assertTrue(r["complete"], name)
            self.assertEqual(r["compliance"]["formula"], "detailed", name)
            self.assertIsInstance(r["flops"]["detailed"], float, name)
            self.assertEqual(r["num_epochs"], 3, name)
            self.assertEqual(r["recipe_config_details"], {"lr": 2e-5, "epochs": 3}, name)
            self.assertEqual(r["model_name"], "gpt2-sft", name)
            self.assertEqual(r["threshold_type"], "unknown_gpai", name)
            self.assertIsNone(r["pct_of_pretrain"], name)
            self.assertIsNone(r["Flops_hardware"], name)
            self.assertIn("sha256", r["provenance"]["recipe"], name)
            self.assertEqual(len(r["provenance"]["datasets"]), 1, name)
            self.assertEqual(r["tokens"]["spent"]["tokens"], str(4 * 900), name)
            self.assertEqual(r["tokens"]["spent"]["padding"], str(4 * 124), name)

    def test_lora_with_flash_attention_and_gradient_checkpointing(self):
        run = self.new_dir()
        meter = self.begin(run, model="gpt2", method="lora", attention="flash_attention_2",
                           **{"lora-r": 8, "lora-targets": "c_attn", "gradient-checkpointing": True})
        train(meter, 3)
        r = meter.end()
        self.assertValid(r, "lora")
        self.assertEqual(r["model"]["method"], "lora")
        self.assertEqual(r["model"]["attention_kernel"], "flash")
        self.assertLess(r["N_trainable"], r["N_total"])
        self.assertNotEqual(r["formulas"]["detailed"]["adapter_forward"], "0")

    def test_counts_only_has_no_detailed_count(self):
        run = self.new_dir()
        meter = self.begin(run, **{"n-total": 124_000_000, "n-trainable": 1_000_000})
        train(meter, 3)
        views = self.all_views(run, meter.end())
        for name, r in views.items():
            self.assertEqual(r["model"]["counts_source"], "trainer", name)
            self.assertIsNone(r["flops"]["detailed"], name)
            self.assertIsNone(r["flops_exact"]["detailed"], name)
            self.assertIn("unavailable", r["formulas"]["detailed"], name)
            self.assertEqual(r["compliance"]["formula"], "eu_6nd", name)
            self.assertIsNone(r["num_epochs"], name)
            self.assertIsNone(r["recipe_config_details"], name)

    def test_known_base_compute(self):
        for pretrain, exact in (("1e23", "100000000000000000000000/3 (~3.333333e+22)"),
                                ("9e22", "30000000000000000000000")):
            run = self.new_dir()
            meter = self.begin(run, **{"n-total": 7_000_000_000, "pretrain-flops": pretrain})
            train(meter, 2, tokens=4000, positions=4096)
            r = meter.end()
            self.assertValid(r, pretrain)
            self.assertEqual(r["threshold_type"], "known_one_third")
            self.assertEqual(r["exact"]["threshold_value"], exact)
            self.assertEqual(r["exact"]["threshold_value_rational"],
                             {"num": exact.split("/")[0], "den": "3" if "/" in exact else "1"})
            self.assertEqual(r["base_model_compute"]["status"], "given")
            self.assertIsInstance(r["pct_of_pretrain"], float)
            self.assertEqual(r["Flops_original"], float(pretrain))

    def test_large_run_exceeds_the_threshold(self):
        # 6 x 7e9 x 1e13 = 4.2e23 FLOP: beyond 64 bits, above a third of 1e24.
        run = self.new_dir()
        meter = self.begin(run, **{"n-total": 7_000_000_000, "pretrain-flops": "1e24"})
        meter.add(10 ** 13, 10 ** 13, 1000)
        meter.step(1)
        r = meter.end()
        self.assertValid(r, "large run")
        self.assertEqual(r["exact"]["compliance_flop"], str(6 * 7_000_000_000 * 10 ** 13))
        self.assertTrue(r["exceeds_30pct"])
        self.assertGreater(r["pct_of_pretrain"], 100 / 3)
        eu = next(g for g in r["regimes"] if g["id"] == "eu_modification")
        self.assertEqual(eu["headroom_exact"], "0")

    def test_catalog_base_compute_and_systemic_risk_default(self):
        run = self.new_dir()
        meter = self.begin(run, model="meta-llama/Llama-3.2-1B")
        train(meter, 2)
        r = meter.end()
        self.assertValid(r, "catalog base compute")
        self.assertEqual(r["base_model_compute"]["status"], "catalog: third_party_estimate")
        self.assertEqual(r["threshold_type"], "known_one_third")

        run = self.new_dir()
        meter = self.begin(run, **{"n-total": 1000, "base-systemic-risk": True})
        train(meter, 1)
        r = meter.end({"status": "interrupted"})
        self.assertValid(r, "systemic-risk base")
        self.assertEqual(r["threshold_type"], "unknown_systemic_risk")
        self.assertEqual(r["status"], "interrupted")

    def test_absolute_budget_stops_the_run(self):
        run = self.new_dir()
        # 6 x 1e6 x 900 = 5.4e9 FLOP per step (eu_6nd): a 3e10 budget stops within a few steps.
        meter = self.begin(run, budget="3e10", **{"n-total": 1_000_000})
        state = train(meter, 50)
        self.assertTrue(state["stop"])
        views = self.all_views(run, meter.end({"status": "stopped_by_budget", "global_step": state["global_step"]}))
        for name, r in views.items():
            self.assertEqual(r["status"], "stopped_by_budget", name)
            budget = r["budget"]
            self.assertEqual(budget["basis"], "absolute", name)
            self.assertIsNone(budget["fraction"], name)
            self.assertEqual(budget["budget_exact"], "30000000000", name)
            self.assertIsNone(budget["fraction_exact"], name)
            self.assertTrue(budget["stopped_by_budget"], name)
            self.assertEqual(budget["events"][-1]["kind"], "budget_stop", name)
            self.assertEqual(r["events"], [], name)

    def test_budget_fraction_of_the_threshold(self):
        run = self.new_dir()
        meter = self.begin(run, model="gpt2", **{"budget-fraction": 0.5})
        train(meter, 2)
        r = meter.end()
        self.assertValid(r, "budget-fraction")
        self.assertEqual(r["budget"]["basis"], "fraction_of_eu_modification_threshold")
        self.assertEqual(r["budget"]["fraction"], 0.5)
        self.assertEqual(r["budget"]["fraction_exact"], "0.5")
        # Exactly half of 1e23/3, rounded down (a double product gave ...65967616).
        self.assertEqual(r["budget"]["budget_exact"], "16666666666666666666666")
        self.assertFalse(r["budget"]["stopped_by_budget"])

    def test_crashed_run_is_reported_as_crashed(self):
        run = self.new_dir()
        self.child({"run": run, "model": "gpt2"}, steps=5, finish="exit", checkpoint_at=3)
        self.assertFalse(os.path.exists(os.path.join(run, "flops_meter.json")))
        r = self.cli_report(run)
        self.assertValid(r, "crashed, CLI")
        self.assertValid(self.native.report_run(run), "crashed, fm_report_run")
        self.assertEqual(r["status"], "crashed")
        self.assertFalse(r["complete"])
        self.assertEqual(r["segments"][0]["status"], "crashed")
        self.assertTrue(r["notes"])

    def test_resumed_run_after_a_kill(self):
        run = self.new_dir()
        self.child({"run": run, "model": "gpt2"}, steps=5, finish="kill", checkpoint_at=3)
        meter = self.begin(run, model="gpt2", resume=True, **{"resume-step": 3})
        train(meter, 4, first_step=4)
        views = self.all_views(run, meter.end({"status": "completed", "global_step": 7}))
        for name, r in views.items():
            self.assertEqual(r["status"], "completed", name)
            self.assertEqual([s["segment"] for s in r["segments"]], [1, 2], name)
            self.assertEqual(r["segments"][0]["status"], "crashed", name)
            resumed = r["segments"][1]["resumed_from"]
            self.assertEqual((resumed["segment"], resumed["step"], resumed["exact"]), (1, 3, True), name)
            self.assertEqual(r["tokens"]["spent"]["tokens"], str(9 * 900), name)
            self.assertEqual(r["tokens"]["in_final_weights"]["tokens"], str(7 * 900), name)
            self.assertEqual(r["tokens"]["not_in_final_weights"], str(2 * 900), name)
            self.assertEqual(r["segments"][0]["not_in_final_weights"],
                             {"tokens": str(2 * 900), "reason": "segment 2 resumed from its checkpoint at step 3"}, name)

    def test_two_ranks_in_separate_processes(self):
        run = self.new_dir()
        common = {"run": run, "model": "gpt2", "world-size": 2, "end-wait": 30}
        rank1 = self.child({**common, "rank": 1}, steps=3, finish="end", wait=False)
        rank0 = self.child({**common, "rank": 0}, steps=3, finish="end", wait=False)
        rank1_end = self.finish_child(rank1, "end")
        ended = self.finish_child(rank0, "end")
        self.assertInvalid(rank1_end, "rank 1's end summary (flopsmeter.rank_end/1) as a run record")
        views = self.all_views(run, ended)
        for name, r in views.items():
            self.assertTrue(r["complete"], name)
            self.assertEqual(r["gpu_size"], 2, name)
            self.assertIsNone(r["gpu_rank"], name)  # no GPU sampled
            self.assertEqual([s["world_size"] for s in r["segments"]], [2, 2], name)
            self.assertEqual(r["ranks"]["journals"], 2, name)
            self.assertEqual(r["ranks"]["missing"], [], name)
            self.assertEqual(sorted(r["provenance"]["journals"]), ["0", "1"], name)
            self.assertEqual(r["tokens"]["spent"]["tokens"], str(2 * 3 * 900), name)

    def test_missing_rank_is_incomplete(self):
        run = self.new_dir()
        meter = self.begin(run, **{"n-total": 1000, "world-size": 2, "end-wait": 0})
        train(meter, 1)
        r = meter.end()
        self.assertValid(r, "missing rank")
        self.assertFalse(r["complete"])
        self.assertEqual(r["ranks"]["missing"], [1])

        # The other rank's journal is on another node: the all-reduce at train end stands in.
        run = self.new_dir()
        meter = self.begin(run, **{"n-total": 1000, "world-size": 2, "end-wait": 0})
        train(meter, 1)
        r = meter.end({"status": "completed", "world": {"tokens": "1800", "positions": 2048, "micro_batches": 2}})
        self.assertValid(r, "all-reduced totals")
        self.assertTrue(r["complete"])
        self.assertEqual(r["ranks"]["missing"], [])
        self.assertEqual(r["tokens"]["spent"]["tokens"], "1800")

    def test_gpu_sampling_with_the_fake_nvml(self):
        if self.fake_nvml is None:
            self.skipTest("no fake NVML library (FM_FAKE_NVML)")
        run = self.new_dir()
        script = os.path.join(self.new_dir(), "gpus.txt")
        with open(script, "w", encoding="utf-8") as f:
            f.write(FAKE_GPUS)
        os.environ["FAKE_NVML_SCRIPT"] = script
        try:
            meter = self.begin(run, model="gpt2", nvml=True, **{"nvml-library": self.fake_nvml, "sample-hz": 200,
                                                                "pretrain-flops": "1e23"})
            meter.add(900, 1024, 1)
            meter.add_sequences(512, 2)
            time.sleep(0.3)
            meter.step(1)
            ended = meter.end()
        finally:
            del os.environ["FAKE_NVML_SCRIPT"]
        views = self.all_views(run, ended)
        for name, r in views.items():
            self.assertEqual(r["hardware"]["sampler"], "sampled", name)
            self.assertIsInstance(r["Flops_hardware"], float, name)
            self.assertGreater(r["Flops_hardware"], 0, name)
            self.assertEqual(r["gpu_name"], "NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3", name)
            self.assertEqual(len(r["hardware"]["gpus"]), 2, name)
            self.assertEqual(r["energy"]["methods"], ["counter", "power_integral"], name)
            self.assertGreater(r["energy"]["joules"], 0, name)
            self.assertEqual(r["gpu_rank"], 0, name)
            [sampler] = r["hardware"]["samplers"]
            self.assertEqual((sampler["state"], sampler["driver_version"], sampler["hz"], sampler["library"]),
                             ("sampled", "550.54.15", 200, self.fake_nvml), name)
            self.assertIsInstance(sampler["notes"], list, name)

    def test_nvml_on_a_rank_that_leaves_sampling_to_local_rank_0(self):
        run = self.new_dir()
        meter = self.begin(run, nvml=True, rank=1, **{"n-total": 1000, "world-size": 2, "local-rank": 1})
        train(meter, 1)
        meter.end()
        r = self.native.report_run(run)
        self.assertValid(r, "local rank 1")
        self.assertEqual(r["hardware"]["sampler"], "sampled by local rank 0 of this node")
        self.assertEqual([s["state"] for s in r["hardware"]["samplers"]], ["sampled by local rank 0 of this node"])
        self.assertIsNone(r["gpu_rank"])

    def watch(self, run_dir, job, *flags, exit_status=0):
        done = subprocess.run([self.cli, "watch", "--run", run_dir, "--n-total", "1000", "--json", *flags, "--",
                               "/bin/sh", "-c", job], capture_output=True, text=True, timeout=60,
                              env=clean_environment())
        self.assertEqual(done.returncode, exit_status, done.stderr)
        return json.loads(done.stdout)

    def test_watch_records_where_its_tokens_come_from(self):
        jobs = {
            "token file": ("tokens.txt", "echo 100 > {path}; echo 250 >> {path}", "250"),
            "trainer_state.json": ("trainer_state.json",
                                   "echo '{{\"global_step\": 3, \"num_input_tokens_seen\": 1200}}' > {path}", "1200"),
        }
        for source, (name, job, tokens) in jobs.items():
            with self.subTest(source):
                run, path = self.new_dir(), os.path.join(self.new_dir(), name)
                ended = self.watch(run, job.format(path=path), "--tokens-from", path)
                for view, r in self.all_views(run, ended).items():
                    self.assertEqual(r["tokens"]["source"], source, view)
                    self.assertEqual(r["tokens"]["spent"]["tokens"], tokens, view)
                    self.assertIsNone(r["tokens"]["spent"]["micro_batches"], view)
        # Without a token source the compute is undetermined: figures null, exit 3.
        r = self.watch(self.new_dir(), "true", exit_status=3)
        self.assertValid(r, "watch without --tokens-from")
        self.assertEqual(r["tokens"]["source"], "none")
        self.assertFalse(r["verdict"]["determined"])
        self.assertIsNone(r["compliance"]["flop"])
        self.assertIsNone(r["exceeds_30pct"])

    def test_nvml_requested_without_a_library(self):
        run = self.new_dir()
        meter = self.begin(run, **{"n-total": 1000, "nvml": True,
                                   "nvml-library": os.path.join(run, "no-such-libnvidia-ml.so")})
        train(meter, 1)
        r = meter.end()
        self.assertValid(r, "NVML unavailable")
        self.assertTrue(r["hardware"]["sampler"].startswith("unavailable: "), r["hardware"]["sampler"])
        [sampler] = r["hardware"]["samplers"]
        self.assertEqual(sampler["state"], r["hardware"]["sampler"])
        self.assertIsNone(sampler["driver_version"])
        self.assertIsNone(r["Flops_hardware"])
        self.assertIsNone(r["gpu_name"])
        self.assertIsNone(r["energy"]["joules"])

    # -- what the schema must refuse ---------------------------------------

    def test_invalid_edits_are_rejected(self):
        run = self.new_dir()
        meter = self.begin(run, model="gpt2", budget="1e30", **{"pretrain-flops": "1e23"})
        train(meter, 2)
        good = meter.end()
        self.assertValid(good, "the base record")

        def edited(change):
            r = copy.deepcopy(good)
            change(r)
            return r

        def put(*path_and_value):
            *path, key, value = path_and_value

            def change(r):
                target = r
                for p in path:
                    target = target[p]
                target[key] = value
            return change

        def drop(*path):
            def change(r):
                target = r
                for p in path[:-1]:
                    target = target[p]
                del target[path[-1]]
            return change

        tokens = int(good["exact"]["tokens_processed"])
        cases = {
            "an exact value as a number": put("exact", "tokens_processed", tokens),
            "an exact FLOP figure as a double": put("flops_exact", "eu_6nd", float(good["flops_exact"]["eu_6nd"])),
            "an exact value in scientific notation": put("exact", "compliance_flop", "1.2e18"),
            "an exact value with a sign": put("tokens", "spent", "tokens", "+" + str(tokens)),
            "a threshold that is not Fraction::to_string()": put("exact", "threshold_value", "3.333e22"),
            "an unknown top-level key": put("pct_of_actual_pretraining", 1.0),
            "an unknown key in a fixed block": put("compliance", "margin", 0.3),
            "a wrong status": put("status", "finished"),
            "a wrong segment status": put("segments", 0, "status", "done"),
            "AWS's threshold_type": put("threshold_type", "default_3.3e22"),
            "AWS's string FLOP figure": put("Flops_architecture", " 1.23e+18"),
            "a missing AWS field": drop("exceeds_30pct"),
            "a missing run_id": drop("run_id"),
            "exceeds_30pct as a string": put("exceeds_30pct", "False"),
            "gpu_size as a string": put("gpu_size", "1"),
            "a negative FLOP figure": put("Flops_architecture", -1.0),
            "pct_of_pretrain without Flops_original": lambda r: (put("Flops_original", None)(r),
                                                                 put("base_model_compute", "flop", None)(r)),
            "Flops_original without pct_of_pretrain": put("pct_of_pretrain", None),
            "a known base with an unknown-base threshold type": put("threshold_type", "unknown_gpai"),
            "Flops_hardware without sampled GPUs": put("Flops_hardware", 1e18),
            "energy without sampled GPUs": put("energy", "joules", 1.0),
            "a wrong budget basis": put("budget", "basis", "percent"),
            "an absolute budget with a fraction": put("budget", "fraction", 0.5),
            "flops.detailed null with flops_exact.detailed": put("flops", "detailed", None),
            "a wrong formula name": put("compliance", "formula", "6nd"),
            "the previous schema id": put("schema", "flopsmeter.run/1"),
            "the /1 name lost_to_crashes": put("tokens", "lost_to_crashes", "0"),
            "a missing not_in_final_weights": drop("tokens", "not_in_final_weights"),
            "a segment without the reason key": drop("segments", 0, "not_in_final_weights", "reason"),
            "an absent flops_exact.detailed": drop("flops_exact", "detailed"),
            "an absent headroom_tokens_exact": drop("regimes", 0, "headroom_tokens_exact"),
            "an absent provenance.recipe": drop("provenance", "recipe"),
            "an absent provenance.options": drop("provenance", "options"),
            "the command in provenance.options": put("provenance", "options", "command", ["train.py"]),
            "a threshold rational as a number": put("exact", "threshold_value_rational", "num", 10 ** 23),
            "a threshold rational with a zero denominator": put("eu_modification_threshold", "threshold_rational",
                                                                "den", "0"),
            "a regime without its threshold rational": drop("regimes", 0, "threshold_rational"),
            "an absolute budget with fraction_exact": put("budget", "fraction_exact", "0.5"),
            "a budget event among the other events": put("events", [{"rank": 0, "segment": 1, "kind": "budget_stop",
                                                                     "message": "stop"}]),
            "another event among the budget's": put("budget", "events", [{"rank": 0, "segment": 1,
                                                                         "kind": "resume_without_checkpoint",
                                                                         "message": "resumed"}]),
            "an event as a string": put("events", ["budget 50% reached"]),
            "gpu_rank without sampled GPUs": put("gpu_rank", 0),
            "an unknown token source": put("tokens", "source", "guess"),
            "micro-batches as a string": put("tokens", "spent", "micro_batches", "2"),
            "a sampler state for a rank that did not request NVML": put("hardware", "samplers", [{
                "rank": 0, "segment": 1, "node": "h", "local_rank": 0, "state": "not requested",
                "driver_version": None, "hz": None, "library": None, "notes": []}]),
            "a local time": put("started_at", "2026-01-01T12:00:00+01:00"),
            "a bad journal hash": put("provenance", "journals", "0", "last_sha256", "abc"),
            "an unknown method": put("model", "method", "prefix_tuning"),
            "a regime's headroom_tokens_exact without headroom_tokens":
                put("regimes", 0, "headroom_tokens", None),
        }
        for what, change in cases.items():
            with self.subTest(what):
                self.assertInvalid(edited(change), what)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        child_main(json.loads(sys.argv[2]))
    else:
        unittest.main()

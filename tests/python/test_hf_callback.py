"""flopsmeter.hf over the real libflopsmeter, driven by the Trainer's loop
as emulated_trainer follows it (transformers is not needed): the events, in
the Trainer's order and with its arguments, over real DataLoaders.

Run: FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so PYTHONPATH=python:tests/python \
     python3 -m unittest test_hf_callback
"""

import json
import os
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock

import torch
import torch.nn as nn

import flopsmeter
import tiny_llama
from emulated_trainer import FlowCallback, Reporter, Trainer, rows_of, tokens_of, training_arguments
from flopsmeter import _native, hf
from flopsmeter.model_info import count_parameters, method_options

TOKENIZER = types.SimpleNamespace(pad_token_id=tiny_llama.PAD_ID, eos_token_id=tiny_llama.EOS_ID)
# The variables the library reads; cleared so the tests see only their own.
LIBRARY_ENVIRONMENT = ("FLOPS_METER_OUT", "PRETRAIN_FLOPS", "FLOPS_METER_NVML", "FLOPS_METER_RUN_DIR",
                       "TRAINING_JOB_NAME", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def read_record(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class CallbackTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.output_dir = os.path.join(self.directory.name, "out")
        environment = mock.patch.dict(os.environ)
        environment.start()
        self.addCleanup(environment.stop)
        for name in LIBRARY_ENVIRONMENT:
            os.environ.pop(name, None)

    def train(self, callback, model=None, batches=None, **argument_overrides):
        """One epoch of `batches` (default 8), two micro-batches a step, with the callback alone."""
        torch.manual_seed(0)
        args = training_arguments(**{"output_dir": self.output_dir, "gradient_accumulation_steps": 2,
                                     **argument_overrides})
        trainer = Trainer(model or tiny_llama.lora_wrap(tiny_llama.TinyLlama()), args,
                          rows_of(tiny_llama.padded_batches(8) if batches is None else batches),
                          callbacks=[callback], processing_class=TOKENIZER)
        trainer.train()
        return trainer

    def test_lora_run_is_recorded_with_counts_after_the_peft_wrap(self):
        callback = hf.FlopsMeterCallback()
        batches = tiny_llama.padded_batches(8)
        self.train(callback, batches=batches, num_train_epochs=2.0)
        record = read_record(os.path.join(self.output_dir, "flops_meter.json"))
        self.assertEqual(callback.record["run_id"], record["run_id"])
        self.assertEqual(record["status"], "completed")
        self.assertEqual(record["N_total"], tiny_llama.PARAMETERS + tiny_llama.lora_parameters())
        self.assertEqual(record["N_trainable"], tiny_llama.lora_parameters())
        self.assertEqual(record["model"]["method"], "lora")
        self.assertEqual(record["model"]["attention"], "sdpa")
        self.assertEqual(record["model_name"], "tiny-llama")
        self.assertEqual(record["num_epochs"], 2)
        self.assertEqual(int(record["exact"]["tokens_processed"]), 2 * tokens_of(batches))
        # The library planned LoRA on the saved config.json and got the same counts.
        self.assertFalse([n for n in record["warnings"] + record["notes"] if "planning" in n], record["warnings"])
        self.assertTrue(os.path.exists(os.path.join(self.output_dir, "flops_meter_run", "model_config.json")))

    def test_checkpointing_mode_comes_from_the_training_arguments(self):
        for kwargs, mode in ((None, "reentrant"), ({"use_reentrant": True}, "reentrant"),
                             ({"use_reentrant": False}, "non-reentrant")):
            with self.subTest(kwargs=kwargs):
                self.output_dir = os.path.join(self.directory.name, f"out-{mode}-{kwargs is None}")
                self.train(hf.FlopsMeterCallback(), gradient_checkpointing=True, gradient_checkpointing_kwargs=kwargs)
                record = read_record(os.path.join(self.output_dir, "flops_meter.json"))
                self.assertTrue(record["model"]["gradient_checkpointing"])
                self.assertEqual(record["model"]["checkpoint_mode"], mode)

    def test_given_counts_win_over_the_models_own_with_a_warning(self):
        # Under FSDP1 a rank's model shows a shard: docs/python.md asks for n_total then.
        total, trainable = tiny_llama.PARAMETERS + tiny_llama.lora_parameters() + 1000, tiny_llama.lora_parameters() + 10
        callback = hf.FlopsMeterCallback(n_total=total, n_trainable=trainable)
        with self.assertLogs("flopsmeter", level="WARNING") as logged:
            self.train(callback)
        record = read_record(os.path.join(self.output_dir, "flops_meter.json"))
        self.assertEqual((record["N_total"], record["N_trainable"]), (total, trainable))
        self.assertTrue(any(f"n_total={total} given" in line and "using the given" in line for line in logged.output),
                        logged.output)

    def test_4bit_weights_count_at_their_logical_size(self):
        model = nn.Linear(64, 64)
        packed = nn.Parameter(torch.zeros(64 * 64 // 2, 1, dtype=torch.uint8), requires_grad=False)
        packed.quant_state = types.SimpleNamespace(shape=torch.Size([64, 64]))  # bitsandbytes Params4bit
        model.weight = packed
        self.assertEqual(count_parameters(model), (64 * 64 + 64, 64))
        model.peft_config = {"default": types.SimpleNamespace(
            peft_type="LORA", r=4, target_modules=["q_proj"], lora_dropout=0.0, bias="none", use_dora=False)}
        self.assertEqual(method_options(model)["method"], "qlora")

    def test_zero3_partitions_count_their_full_size(self):
        model = nn.Module()
        for name, numel, trains in (("a", 1000, True), ("b", 500, False)):
            placeholder = nn.Parameter(torch.empty(0), requires_grad=trains)  # what ZeRO-3 leaves locally
            placeholder.ds_numel = numel
            model.register_parameter(name, placeholder)
        self.assertEqual(count_parameters(model), (1500, 1000))

    def test_tied_weights_count_once(self):
        model = tiny_llama.TinyLlama()
        model.lm_head.weight = model.model.embed_tokens.weight
        self.assertEqual(count_parameters(model), (tiny_llama.PARAMETERS - 6400,) * 2)

    def test_layer_freeze_and_selective_training_are_described(self):
        model = tiny_llama.TinyLlama()
        for parameter in [*model.model.embed_tokens.parameters(), *model.model.layers[0].parameters()]:
            parameter.requires_grad_(False)
        self.assertEqual(method_options(model),
                         {"method": "freeze", "freeze-layers": 1, "freeze-embeddings": True})
        callback = hf.FlopsMeterCallback()
        self.train(callback, model=model, batches=tiny_llama.padded_batches(2))
        self.assertEqual(callback.record["model"]["method"], "freeze")
        self.assertFalse([n for n in callback.record["notes"] if "planning" in n], callback.record["notes"])

        model.model.layers[1].mlp.requires_grad_(False)  # not a layer freeze
        options = method_options(model)
        self.assertEqual(options["method"], "spectrum")
        self.assertIn(r"model\.layers\.1\.self_attn\.q_proj\.weight$", options["spectrum-patterns"])
        self.assertNotIn(r"model\.layers\.1\.mlp\.up_proj\.weight$", options["spectrum-patterns"])

    def test_environment_variables_reach_the_library(self):
        out = os.path.join(self.directory.name, "elsewhere", "flops_meter.json")
        os.makedirs(os.path.dirname(out))
        os.environ.update(FLOPS_METER_OUT=out, PRETRAIN_FLOPS="3e23", FLOPS_METER_RUN_DIR=self.directory.name + "/r")
        callback = hf.FlopsMeterCallback()
        self.train(callback, batches=tiny_llama.padded_batches(2))
        record = read_record(out)
        self.assertFalse(os.path.exists(os.path.join(self.output_dir, "flops_meter.json")))
        self.assertEqual(float(record["Flops_original"]), 3e23)
        self.assertEqual(record["base_model_compute"]["status"], "given")
        self.assertTrue(os.path.exists(os.path.join(self.directory.name, "r", "journal-rank0.jsonl")))

    def test_recipe_flag_compute_flops_decides(self):
        recipe = os.path.join(self.directory.name, "recipe.yaml")
        with open(recipe, "w", encoding="utf-8") as f:
            f.write("model_name_or_path: meta-llama/Llama-3.2-3B-Instruct\nuse_peft: true\n"
                    "compute_flops: true # meter it\npeft_config:\n  r: 8\n")
        callback = hf.maybe_callback(recipe)
        self.train(callback, batches=tiny_llama.padded_batches(2))
        self.assertEqual(callback.record["recipe_config"], recipe)
        self.assertEqual(callback.record["model_name"], "meta-llama/Llama-3.2-3B-Instruct")
        self.assertIs(callback.record["recipe_config_details"]["compute_flops"], True)
        with mock.patch.dict(sys.modules, {"yaml": None}):  # PyYAML absent: top-level lines still read
            self.assertIsInstance(hf.maybe_callback(recipe), hf.FlopsMeterCallback)
        self.assertIsNone(hf.maybe_callback({"compute_flops": False}))
        self.assertIsNone(hf.maybe_callback({"model_name_or_path": "gpt2"}))

    def test_budget_stop_asks_the_trainer_to_save_and_stop(self):
        batch = {"input_ids": torch.randint(3, 100, (4, 16)), "attention_mask": torch.ones(4, 16, dtype=torch.int64)}
        batch["labels"] = batch["input_ids"]
        probe = hf.FlopsMeterCallback(run_dir=os.path.join(self.directory.name, "probe"))
        self.train(probe, batches=[batch] * 2, output_dir=os.path.join(self.directory.name, "probe-out"))
        per_step = int(probe.record["exact"]["compliance_flop"])
        budget = per_step * 3 + per_step // 2
        callback = hf.FlopsMeterCallback(budget=budget)
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer = self.train(callback, batches=[batch] * 20, save_steps=100)
        self.assertTrue(any("budget 50.0% reached at step 2" in line for line in logged.output), logged.output)
        self.assertIn("saving a checkpoint and stopping", logged.output[-1])
        self.assertEqual(trainer.state.global_step, 3)
        self.assertTrue(trainer.control.should_training_stop)
        record = callback.record
        self.assertEqual(record["status"], "stopped_by_budget")
        self.assertLessEqual(int(record["compliance"]["exact"]), budget)
        checkpoints = [s for s in self.journal_lines() if s["kind"] == "checkpoint"]
        self.assertEqual([(c["step"], c["checkpoint"]) for c in checkpoints],
                         [(3, os.path.join(self.output_dir, "checkpoint-3"))])

    def journal_lines(self):
        with open(os.path.join(self.output_dir, "flops_meter_run", "journal-rank0.jsonl"), encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def test_logs_carry_the_flops_metrics(self):
        trainer = self.train(hf.FlopsMeterCallback(budget_fraction=0.5))
        step_logs = [logs for logs in trainer.logged if "loss" in logs]
        self.assertEqual(len(step_logs), 2)
        for logs in step_logs:
            self.assertGreater(logs["flops/compute"], 0)
            self.assertGreater(logs["flops/threshold_fraction"], 0)
            self.assertAlmostEqual(logs["flops/budget_fraction"], 2 * logs["flops/threshold_fraction"])
        self.assertLess(step_logs[0]["flops/compute"], step_logs[1]["flops/compute"])

    def test_reporting_integrations_see_the_flops_metrics(self):
        def trainer(trainer_class, name, reporter):
            args = training_arguments(os.path.join(self.directory.name, name), gradient_accumulation_steps=2)
            return trainer_class(tiny_llama.lora_wrap(tiny_llama.TinyLlama()), args,
                                 rows_of(tiny_llama.padded_batches(8)), reporting=[reporter],
                                 callbacks=[hf.FlopsMeterCallback(budget_fraction=0.5)], processing_class=TOKENIZER)

        # Left where the Trainer puts a user's callback, after the integrations: too late.
        late = Reporter()
        trainer(Trainer, "late", late).train()
        self.assertEqual(len(late.written), 3)  # steps 2 and 4, and the train metrics
        self.assertFalse([logs for logs in late.written if "flops/compute" in logs])

        placed = Reporter()
        plain = trainer(Trainer, "placed", placed)
        self.assertIs(hf.put_before_reporting(plain), plain.callback_handler.callbacks[1])
        metered_reporter = Reporter()
        metered = trainer(hf.metered_trainer(Trainer), "metered", metered_reporter)
        for reporter, placed_trainer in ((placed, plain), (metered_reporter, metered)):
            # After the flow callback, whose step-end decisions the meter's reads.
            self.assertEqual([type(c) for c in placed_trainer.callback_handler.callbacks],
                             [FlowCallback, hf.FlopsMeterCallback, Reporter])
            placed_trainer.train()
            self.assertEqual(reporter.written, placed_trainer.logged)
            self.assertEqual(len(reporter.written), 3)
            for logs in reporter.written:
                self.assertGreater(logs["flops/compute"], 0)
                self.assertGreater(logs["flops/budget_fraction"], 0)
            self.assertLess(reporter.written[0]["flops/compute"], reporter.written[1]["flops/compute"])

    def test_without_budget_the_state_is_read_at_the_steps_that_log(self):
        callback = hf.FlopsMeterCallback()
        with mock.patch.object(_native.library(), "fm_meter_step", wraps=_native.library().fm_meter_step) as spy:
            trainer = self.train(callback, batches=tiny_llama.padded_batches(10), logging_steps=2, save_steps=3)
        # Step 1 learns there is no budget; 2 and 4 log; 5 is the last. Saving (3) needs no figures.
        self.assertEqual([c.args[1] for c in spy.call_args_list if c.args[2] is not None], [1, 2, 4, 5])
        self.assertEqual(spy.call_count, 5)
        step_logs = [logs for logs in trainer.logged if "loss" in logs]
        self.assertEqual(len(step_logs), 2)
        self.assertLess(step_logs[0]["flops/compute"], step_logs[1]["flops/compute"])
        self.assertEqual(callback.record["status"], "completed")

    def test_train_again_is_a_new_run_that_carries_the_first(self):
        # trainer.train() twice in a notebook: the second trains the model the
        # first left in memory, from step 0, without resume_from_checkpoint.
        callback = hf.FlopsMeterCallback()
        trainer = self.train(callback)
        first = callback.record
        trainer.train()
        second = callback.record
        self.assertNotEqual(first["run_id"], second["run_id"])
        for run_dir in ("flops_meter_run", "flops_meter_run-2"):
            self.assertTrue(os.path.exists(os.path.join(self.output_dir, run_dir, "journal-rank0.jsonl")), run_dir)
        # Both runs trained the same tokens; the second's modification holds the first's compute too.
        self.assertEqual(first["exact"]["tokens_processed"], second["exact"]["tokens_processed"])
        own = int(second["compliance"]["exact"])
        eu = [r for r in second["regimes"] if r["id"] == "eu_modification"][0]
        self.assertEqual(int(eu["compute_exact"]), own + int(first["compliance"]["exact"]))
        # A third call carries both earlier runs, into the next free directory.
        trainer.train()
        third = callback.record
        eu = [r for r in third["regimes"] if r["id"] == "eu_modification"][0]
        self.assertEqual(int(eu["compute_exact"]), int(third["compliance"]["exact"]) + 2 * own)
        self.assertTrue(os.path.exists(os.path.join(self.output_dir, "flops_meter_run-3", "journal-rank0.jsonl")))

    def test_a_new_job_in_an_output_dir_holding_a_run_meters_into_a_new_run(self):
        self.train(hf.FlopsMeterCallback())
        callback = hf.FlopsMeterCallback()  # a fresh process: knows nothing of the earlier run
        with self.assertLogs("flopsmeter", "WARNING") as logs:
            self.train(callback)
        self.assertIn("already holds a run", "\n".join(logs.output))
        self.assertEqual(callback.record["status"], "completed")
        self.assertTrue(os.path.exists(os.path.join(self.output_dir, "flops_meter_run-2", "journal-rank0.jsonl")))
        eu = [r for r in callback.record["regimes"] if r["id"] == "eu_modification"][0]
        self.assertEqual(eu["compute_exact"], callback.record["compliance"]["exact"])  # another model: nothing carried

    def test_resumed_training_continues_the_run(self):
        class ProcessKilled(Exception):
            pass

        class KillAtTrainEnd(hf._TrainerCallback):  # before the meter's: its on_train_end never runs
            def on_train_end(self, args, state, control, **kwargs):
                raise ProcessKilled

        batches = tiny_llama.padded_batches(8)
        first_callback = hf.FlopsMeterCallback()
        first = Trainer(tiny_llama.lora_wrap(tiny_llama.TinyLlama()), training_arguments(self.output_dir),
                        rows_of(batches), callbacks=[first_callback], reporting=[KillAtTrainEnd()])
        with self.assertRaises(ProcessKilled):
            first.train()  # saves at steps 2, 4, 6, 8
        first_callback.meter.close()
        # Restarted from checkpoint-4, inside the epoch: the Trainer restores
        # global_step before on_train_begin and iterates
        # skip_first_batches(train_dataloader, 4), a new loader.
        checkpoint = os.path.join(self.output_dir, "checkpoint-4")
        callback = hf.FlopsMeterCallback()
        resumed = Trainer(tiny_llama.lora_wrap(tiny_llama.TinyLlama()),
                          training_arguments(self.output_dir, resume_from_checkpoint=checkpoint), rows_of(batches),
                          callbacks=[callback])
        resumed.train(resume_from_checkpoint=checkpoint)
        self.assertEqual(len(resumed.trained), 4)
        record = callback.record
        self.assertEqual(int(record["tokens"]["in_final_weights"]["tokens"]), tokens_of(batches))
        self.assertEqual(int(record["tokens"]["not_in_final_weights"]), tokens_of(batches[4:]))
        self.assertEqual(len(record["segments"]), 2)

    def test_metered_trainer_counts_each_training_step(self):
        class BaseTrainer:
            def __init__(self, model, callbacks):
                self.model = model
                self.callback_handler = types.SimpleNamespace(callbacks=[object(), *callbacks])
                self.logged = []

            def training_step(self, model, inputs, num_items_in_batch=None):
                return model(**inputs)

            def log(self, logs, start_time=None):
                self.logged.append(dict(logs))

            def train(self, batches):
                raise ValueError("CUDA out of memory")  # after training_step calls below

        with self.assertRaisesRegex(ValueError, "exactly one FlopsMeterCallback"):
            hf.metered_trainer(BaseTrainer)(tiny_llama.TinyLlama(), callbacks=[])
        callback = hf.FlopsMeterCallback()
        trainer = hf.metered_trainer(BaseTrainer)(tiny_llama.TinyLlama(), callbacks=[callback])
        self.assertEqual(type(trainer).__name__, "MeteredBaseTrainer")
        args = training_arguments(self.output_dir)
        state = types.SimpleNamespace(global_step=0, is_world_process_zero=True)
        control = types.SimpleNamespace(should_training_stop=False, should_save=False, should_log=True)
        callback.on_train_begin(args, state, control, model=trainer.model)
        batches = tiny_llama.padded_batches(3)
        for batch in batches:
            trainer.training_step(trainer.model, batch, num_items_in_batch=10)
        state.global_step = 1
        callback.on_step_end(args, state, control)
        trainer.log({"loss": 2.0})
        self.assertIn("flops/compute", trainer.logged[0])
        with self.assertRaises(ValueError):
            trainer.train(batches)
        record = read_record(os.path.join(self.output_dir, "flops_meter.json"))
        self.assertEqual(record["status"], "failed")
        self.assertEqual(int(record["exact"]["tokens_processed"]), sum(int(b["attention_mask"].sum()) for b in batches))

    def test_wrapped_collator_counts_batches_in_the_main_process_only(self):
        # A loop whose events carry no train_dataloader: the wrapped collator counts.
        callback = hf.FlopsMeterCallback()
        collate = callback.wrap_collator(torch.utils.data.default_collate)
        args = training_arguments(self.output_dir)
        state = types.SimpleNamespace(global_step=0, is_world_process_zero=True)
        control = types.SimpleNamespace(should_training_stop=False, should_save=False, should_log=False)
        callback.on_train_begin(args, state, control, model=tiny_llama.TinyLlama())
        rows = rows_of(tiny_llama.padded_batches(2))
        for _ in torch.utils.data.DataLoader(rows, batch_size=4, collate_fn=collate):
            pass
        with self.assertRaisesRegex(RuntimeError, "cannot reach the meter"):
            for _ in torch.utils.data.DataLoader(rows, batch_size=4, collate_fn=collate, num_workers=1):
                pass
        callback.on_train_end(args, state, control)
        self.assertEqual(int(callback.record["exact"]["tokens_processed"]),
                         sum(int(r["attention_mask"].sum()) for r in rows))

    def test_imports_without_transformers(self):
        script = ("import sys; sys.modules['transformers'] = None\n"
                  "from flopsmeter.hf import FlopsMeterCallback as C\n"
                  "names = ['on_train_begin', 'on_substep_end', 'on_step_end', 'on_log', 'on_save', 'on_train_end',"
                  " 'on_epoch_begin', 'on_evaluate']\n"
                  "assert all(callable(getattr(C(), n)) for n in names)\n")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(flopsmeter.__file__)))
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)


if __name__ == "__main__":
    unittest.main()

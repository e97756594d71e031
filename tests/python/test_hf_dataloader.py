"""FlopsMeterCallback alone on a stock Trainer: it counts the batches of the
train_dataloader the Trainer hands its events, exactly the batches trained,
once, and never stops the job for its own errors. The Trainer's loop is
emulated_trainer's (transformers' order and arguments, accelerate's
prefetching DataLoaderShard, real DataLoaders); the library is the real one.

Run: FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so PYTHONPATH=python:tests/python \\
     python3 -m unittest test_hf_dataloader
"""

import json
import os
import shutil
import tempfile
import types
import unittest
from unittest import mock

import torch

import tiny_llama
from emulated_trainer import (DataLoaderShard, DataLoaderShardSubclass, Trainer, rows_of, skip_first_batches,
                              tokens_of, training_arguments)
from flopsmeter import hf

TOKENIZER = types.SimpleNamespace(pad_token_id=tiny_llama.PAD_ID, eos_token_id=tiny_llama.EOS_ID)
LIBRARY_ENVIRONMENT = ("FLOPS_METER_OUT", "PRETRAIN_FLOPS", "FLOPS_METER_NVML", "FLOPS_METER_RUN_DIR",
                       "TRAINING_JOB_NAME", "RANK", "WORLD_SIZE", "LOCAL_RANK")


class OwnLoopTrainer(Trainer):
    """A trainer whose training loop is its own module's copy (as Unsloth
    compiles one): it finds skip_first_batches among that module's globals,
    not transformers.trainer's."""

    own_module = types.ModuleType("own_training_loop")
    own_module.skip_first_batches = skip_first_batches

    def loop_module(self):
        return self.own_module


class LoaderClasses(hf._TrainerCallback):
    """What the Trainer's train_dataloader says its class is, at each step's end."""

    def __init__(self):
        self.seen = set()

    def on_step_end(self, args, state, control, train_dataloader=None, **kwargs):
        self.seen.add(train_dataloader.__class__)


class DataLoaderTest(unittest.TestCase):
    def setUp(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.directory = directory.name
        self.output_dir = os.path.join(self.directory, "out")
        environment = mock.patch.dict(os.environ)
        environment.start()
        self.addCleanup(environment.stop)
        for name in LIBRARY_ENVIRONMENT:
            os.environ.pop(name, None)

    def trainer(self, callback, batches, trainer_class=Trainer, output_dir=None, callbacks=(), trainer_options=None,
                **argument_overrides):
        torch.manual_seed(0)
        args = training_arguments(output_dir or self.output_dir, **argument_overrides)
        return trainer_class(tiny_llama.lora_wrap(tiny_llama.TinyLlama()), args, rows_of(batches),
                             callbacks=[callback, *callbacks], processing_class=TOKENIZER, **(trainer_options or {}))

    def assert_counted(self, record, batches):
        """The record holds exactly these micro-batches' non-padding tokens."""
        spent = record["tokens"]["spent"]
        self.assertEqual(int(spent["tokens"]), tokens_of(batches))
        self.assertEqual(spent["micro_batches"], len(batches))

    def test_the_callback_alone_counts_every_batch_trained(self):
        batches = tiny_llama.padded_batches(10)
        for prepare in (DataLoaderShard, DataLoaderShardSubclass, None):
            with self.subTest(prepare=prepare and prepare.__name__):
                callback = hf.FlopsMeterCallback()
                loader_classes = LoaderClasses()
                # Windows of 3, 3, 3 and 1 micro-batches, two epochs (a fresh iterator each).
                trainer = self.trainer(callback, batches, output_dir=os.path.join(self.directory, str(prepare)),
                                       callbacks=[loader_classes], num_train_epochs=2.0,
                                       gradient_accumulation_steps=3, trainer_options={"prepare": prepare})
                trainer.train()
                self.assertEqual(len(trainer.trained), 20)
                self.assertEqual(trainer.state.global_step, 8)
                record = callback.record
                self.assertEqual(record["status"], "completed")
                self.assertEqual(record["tokens"]["optimizer_steps"], 8)
                self.assert_counted(record, trainer.trained)
                # While it counts, the loader is still what it was (accelerate's
                # shows its DataLoader's class); afterwards it is its own class again.
                loader = trainer.callback_handler.train_dataloader
                expected = torch.utils.data.DataLoader if prepare is DataLoaderShard else type(loader)
                self.assertTrue(loader_classes.seen)
                self.assertTrue(all(issubclass(seen, expected) for seen in loader_classes.seen), loader_classes.seen)
                self.assertIs(type(loader), prepare or torch.utils.data.DataLoader)

    def test_a_stop_at_max_steps_counts_only_the_batches_trained(self):
        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, tiny_llama.padded_batches(10), max_steps=2, gradient_accumulation_steps=2)
        trainer.train()
        self.assertEqual(len(trainer.trained), 4)
        # accelerate fetched the fifth batch ahead; it never trained.
        self.assertEqual(trainer.callback_handler.train_dataloader.batches_fetched, 5)
        self.assert_counted(callback.record, trainer.trained)

    def test_a_stop_inside_an_accumulation_window_counts_only_the_batches_trained(self):
        class StopAfterAMicroBatch(hf._TrainerCallback):  # e.g. a time limit checked at every micro-batch
            def on_substep_end(self, args, state, control, **kwargs):
                if state.global_step == 1:
                    control.should_training_stop = True

        batches = tiny_llama.padded_batches(10)
        for trainer_class in (Trainer, hf.metered_trainer(Trainer)):
            with self.subTest(trainer=trainer_class.__name__):
                callback = hf.FlopsMeterCallback()
                trainer = self.trainer(callback, batches, trainer_class, callbacks=[StopAfterAMicroBatch()],
                                       output_dir=os.path.join(self.directory, trainer_class.__name__),
                                       gradient_accumulation_steps=3)
                trainer.train()
                # The Trainer fetched the second window whole (and accelerate one
                # more batch) but trained its first micro-batch only.
                self.assertEqual(len(trainer.trained), 4)
                self.assert_counted(callback.record, trainer.trained)

    def test_a_loop_without_substep_events_counts_its_batches_as_fetched(self):
        class NoSubstepEvents(Trainer):  # a custom loop that tells of optimizer steps only
            def event(self, name, **kwargs):
                if name != "on_substep_end":
                    super().event(name, **kwargs)

        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, tiny_llama.padded_batches(10), NoSubstepEvents, max_steps=3,
                               gradient_accumulation_steps=3)
        trainer.train()
        self.assertEqual(len(trainer.trained), 9)
        self.assert_counted(callback.record, trainer.trained)

    def test_dataloader_workers_still_count(self):
        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, tiny_llama.padded_batches(6), dataloader_num_workers=2,
                               gradient_accumulation_steps=2)
        trainer.train()
        self.assertEqual(len(trainer.trained), 6)
        self.assert_counted(callback.record, trainer.trained)

    def test_the_budget_guard_stops_the_callback_alone(self):
        batch = {"input_ids": torch.randint(3, 100, (4, 16)), "attention_mask": torch.ones(4, 16, dtype=torch.int64)}
        batch["labels"] = batch["input_ids"]
        probe = hf.FlopsMeterCallback(run_dir=os.path.join(self.directory, "probe"))
        self.trainer(probe, [batch] * 2, output_dir=os.path.join(self.directory, "probe-out"),
                     gradient_accumulation_steps=2).train()
        per_step = int(probe.record["exact"]["compliance_flop"])
        budget = per_step * 3 + per_step // 2
        callback = hf.FlopsMeterCallback(budget=budget)
        trainer = self.trainer(callback, [batch] * 20, gradient_accumulation_steps=2, save_steps=100)
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer.train()
        self.assertTrue(any("saving a checkpoint and stopping" in line for line in logged.output), logged.output)
        self.assertEqual(trainer.state.global_step, 3)
        self.assertEqual(callback.record["status"], "stopped_by_budget")
        self.assertLessEqual(int(callback.record["compliance"]["exact"]), budget)
        self.assert_counted(callback.record, trainer.trained)

    def test_trls_max_length_makes_the_budget_a_guarantee(self):
        """With SFTConfig's max_length, per_device_train_batch_size and
        gradient_accumulation_steps the guard knows the costliest step
        possible: a run of steps of growing length stops within its budget
        (with the costliest step so far it would not know the next is longer)."""
        batches = [tiny_llama.padded_batches(1, rows=4, length=length, seed=length)[0] for length in range(4, 64, 3)]
        probe = hf.FlopsMeterCallback(run_dir=os.path.join(self.directory, "probe"))
        self.trainer(probe, batches, output_dir=os.path.join(self.directory, "probe-out")).train()
        budget = int(probe.record["exact"]["compliance_flop"]) // 2
        callback = hf.FlopsMeterCallback(budget=budget)
        trainer = self.trainer(callback, batches, save_steps=100, max_length=64)
        with self.assertLogs("flopsmeter", "WARNING"):
            trainer.train()
        self.assertEqual(callback.record["status"], "stopped_by_budget")
        self.assertLessEqual(int(callback.record["compliance"]["exact"]), budget)
        self.assertTrue(callback.record["budget"]["guard"].startswith("declared: "))
        options = callback.record["provenance"]["options"]
        self.assertEqual((options["max-length"], options["micro-batch-size"], options["grad-accum"]), (64, 4, 1))

    def test_metered_trainer_and_a_wrapped_collator_count_each_batch_once(self):
        batches = tiny_llama.padded_batches(10)
        for metered in (False, True):
            for wrap_collator in (False, True):
                if not (metered or wrap_collator):
                    continue
                with self.subTest(metered=metered, wrap_collator=wrap_collator):
                    callback = hf.FlopsMeterCallback()
                    collate = torch.utils.data.default_collate
                    trainer = self.trainer(callback, batches, hf.metered_trainer(Trainer) if metered else Trainer,
                                           output_dir=os.path.join(self.directory, f"{metered}-{wrap_collator}"),
                                           trainer_options={"data_collator": callback.wrap_collator(collate)
                                                            if wrap_collator else collate},
                                           max_steps=2, gradient_accumulation_steps=2)
                    trainer.train()
                    self.assertEqual(len(trainer.trained), 4)
                    self.assert_counted(callback.record, trainer.trained)

    def test_a_resume_inside_an_epoch_counts_the_skipped_loader(self):
        batches = tiny_llama.padded_batches(8)
        self.trainer(hf.FlopsMeterCallback(), batches, max_steps=3).train()  # saves at step 2
        checkpoint = os.path.join(self.output_dir, "checkpoint-2")
        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, batches, resume_from_checkpoint=checkpoint, num_train_epochs=2.0)
        with self.assertNoLogs("flopsmeter", "WARNING"):
            trainer.train(resume_from_checkpoint=checkpoint)
        self.assertEqual(len(trainer.trained), 6 + 8)
        segments = callback.record["segments"]
        self.assertEqual(int(segments[1]["spent"]["tokens"]), tokens_of(trainer.trained))
        # The loader the Trainer made and the one it skipped with are their own classes again.
        self.assertIs(trainer.loop_module().skip_first_batches, skip_first_batches)
        self.assertIs(type(trainer.callback_handler.train_dataloader), DataLoaderShard)

    def test_a_resume_the_callback_cannot_see_is_warned_about(self):
        batches = tiny_llama.padded_batches(8)
        self.trainer(hf.FlopsMeterCallback(), batches, max_steps=3).train()
        checkpoint = os.path.join(self.output_dir, "checkpoint-2")
        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, batches, OwnLoopTrainer, resume_from_checkpoint=checkpoint,
                               num_train_epochs=2.0, include_num_input_tokens_seen="non_padding")
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer.train(resume_from_checkpoint=checkpoint)
        # The resumed epoch's 6 batches went uncounted; the next epoch's 8 counted.
        self.assertIn("optimizer step 3 ran without a batch reaching the meter", logged.output[0])
        self.assertTrue(any("6 of 14 optimizer steps ran without a batch" in line for line in logged.output),
                        logged.output)
        self.assertTrue(any(f"the meter counted {tokens_of(batches)} tokens in this run, the Trainer's "
                            f"num_input_tokens_seen grew by {tokens_of(trainer.trained)}" in line
                            for line in logged.output), logged.output)

    def test_num_input_tokens_seen_gives_the_tokens_when_no_batch_is_seen(self):
        batches = tiny_llama.padded_batches(6)
        for mode, expected in (("non_padding", tokens_of(batches)), ("all", 6 * 4 * 16)):
            with self.subTest(mode=mode):
                callback = hf.FlopsMeterCallback()
                # A Trainer whose events carry no train_dataloader.
                trainer = self.trainer(callback, batches, output_dir=os.path.join(self.directory, mode),
                                       include_num_input_tokens_seen=mode,
                                       trainer_options={"hands_over_dataloader": False})
                with self.assertLogs("flopsmeter", "WARNING") as logged:
                    trainer.train()
                self.assertTrue(any(f"its tokens are the Trainer's num_input_tokens_seen, {expected}" in line
                                    for line in logged.output), logged.output)
                self.assertEqual(int(callback.record["tokens"]["spent"]["tokens"]), expected)
                # The record says where its tokens came from.
                self.assertTrue(any("num_input_tokens_seen" in note for note in callback.record["notes"]),
                                callback.record["notes"])

    def test_steps_without_counted_tokens_warn_loudly(self):
        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, tiny_llama.padded_batches(4), trainer_options={"hands_over_dataloader": False})
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer.train()
        self.assertIn("4 optimizer steps and NO TOKENS COUNTED", logged.output[-1])
        self.assertEqual(int(callback.record["tokens"]["spent"]["tokens"]), 0)
        # ... and the record never reads "below": its compute is undetermined.
        self.assertFalse(callback.record["verdict"]["determined"])
        self.assertIn("4 optimizer steps ran but no tokens were counted", callback.record["verdict"]["undetermined_reason"])
        self.assertIsNone(callback.record["exceeds_30pct"])
        self.assertIsNone(callback.record["compliance"]["flop"])

    def test_meter_errors_do_not_stop_training(self):
        class CloseTheMeter(hf._TrainerCallback):  # an invalid state: the meter ended under the callback
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 2:
                    callback.meter.close()

        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, tiny_llama.padded_batches(6), trainer_options={"reporting": [CloseTheMeter()]})
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer.train()
        self.assertEqual(trainer.state.global_step, 6)
        # Steps 2 to 6 could neither count their batch nor step the meter.
        for warning in ("a batch could not be counted (FlopsMeterError: the meter has ended or was closed",
                        "on_step_end failed (FlopsMeterError: the meter has ended or was closed"):
            self.assertTrue(any(warning in line and "(5 times in this run)" in line for line in logged.output),
                            logged.output)
        self.assertTrue(any("5 of 6 batches could not be counted" in line for line in logged.output), logged.output)

        # An option the library refuses: training goes on, unmetered.
        callback = hf.FlopsMeterCallback(lora_rank=8)
        trainer = self.trainer(callback, tiny_llama.padded_batches(2), output_dir=os.path.join(self.directory, "a"))
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer.train()
        self.assertEqual(trainer.state.global_step, 2)
        self.assertIn('the run could not begin (meter options: unknown option "lora_rank"; did you mean "lora_r"?', logged.output[0])
        self.assertIsNone(callback.record)

        # The record cannot be written (its directory is gone): an I/O error at train end.
        out = os.path.join(self.directory, "records", "flops_meter.json")
        os.makedirs(os.path.dirname(out))
        os.environ["FLOPS_METER_OUT"] = out

        class RemoveTheRecordsDirectory(hf._TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                shutil.rmtree(os.path.dirname(out), ignore_errors=True)

        callback = hf.FlopsMeterCallback()
        trainer = self.trainer(callback, tiny_llama.padded_batches(2), output_dir=os.path.join(self.directory, "b"),
                               trainer_options={"reporting": [RemoveTheRecordsDirectory()]})
        with self.assertLogs("flopsmeter", "WARNING") as logged:
            trainer.train()
        self.assertEqual(trainer.state.global_step, 2)
        self.assertIsNone(callback.record)
        self.assertTrue(any("on_train_end failed (FlopsMeterError" in line for line in logged.output), logged.output)
        # The journal keeps the run, as after a crash.
        with open(os.path.join(self.directory, "b", "flops_meter_run", "journal-rank0.jsonl"), encoding="utf-8") as f:
            self.assertEqual(json.loads(f.readline())["kind"], "begin")


if __name__ == "__main__":
    unittest.main()

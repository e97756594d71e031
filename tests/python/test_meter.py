"""flopsmeter.Meter over the real libflopsmeter, driven by real torch training.

Run: FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so PYTHONPATH=python:tests/python \
     python3 -m unittest test_meter
"""

import contextlib
import json
import multiprocessing
import os
import signal
import socket
import tempfile
import unittest
from unittest import mock

import torch

import flopsmeter
import tiny_llama
from flopsmeter import _native

# Children are forked, so they start without importing torch again (seconds
# each); torch runs one thread, so no thread pool exists to break in a fork.
torch.set_num_threads(1)
FORK = multiprocessing.get_context("fork")


def exact_tokens(record):
    return int(record["exact"]["tokens_processed"])


def mask_tokens(batches):
    return sum(int(b["attention_mask"].sum()) for b in batches)


def on_device():
    """Counts CPU batches as batches on an accelerator are counted (device
    tensors, read back at sync points), for machines without one."""
    return mock.patch.object(flopsmeter.Meter, "_cpu_batches_on_host", False)


def state_requests(meter):
    """A spy on fm_meter_step: its calls' state_json arguments, None where the
    state was not requested."""
    return mock.patch.object(meter._lib, "fm_meter_step", wraps=meter._lib.fm_meter_step)


def requested_steps(spy):
    return [c.args[1] for c in spy.call_args_list if c.args[2] is not None]


def budget_steps(meter):
    """A spy on fm_meter_step_budget, the step of a run with a budget."""
    return mock.patch.object(meter._lib, "fm_meter_step_budget", wraps=meter._lib.fm_meter_step_budget)


def killed_after_checkpoint(run_dir, batches):
    """Meters a step per batch, checkpoints after the third, journals after
    the fifth, meters the sixth, then dies by SIGKILL: no end line, no cleanup."""
    meter = flopsmeter.Meter(run_dir, n_total=tiny_llama.PARAMETERS, n_trainable=tiny_llama.PARAMETERS,
                             journal_interval=3600)
    for step, batch in enumerate(batches, 1):
        meter.add_batch(**batch)
        meter.step(step)
        if step == 3:
            meter.checkpoint(3, "checkpoint-3")
        if step == 5:
            meter.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def one_of_two_ranks(rank, port, run_dir, budget, batch):
    """One rank of a two-rank gloo job: rank 0 trains, rank 1 sees no batch at
    all (the AWS meter skipped its collective there and hung rank 0). Both
    must stop at the same step and end. Writes RUN_DIR/../rank<R>.json."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.distributed.init_process_group("gloo")
    meter = flopsmeter.Meter(run_dir, n_total=tiny_llama.PARAMETERS, n_trainable=tiny_llama.PARAMETERS,
                             budget=budget, end_wait=20)
    stopped_at = None
    for step in range(1, 50):
        if rank == 0:
            meter.add_batch(**batch)
        if meter.step(step)["stop"]:
            stopped_at = step
            break
    record = meter.end()
    with open(os.path.join(os.path.dirname(run_dir), f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump({"stopped_at": stopped_at, "status": record["status"]}, f)
    torch.distributed.destroy_process_group()


def one_of_two_nodes(rank, port, directory, options):
    """One rank of a two-node gloo job whose run directories are node-local
    (DIRECTORY/node<R>/run) and which names no run id. Writes what Meter()
    did to DIRECTORY/rank<R>.json."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK="0")
    os.environ.pop("FLOPS_METER_RUN_ID", None)
    torch.distributed.init_process_group("gloo")
    outcome = {}
    try:
        meter = flopsmeter.Meter(os.path.join(directory, f"node{rank}", "run"), n_total=tiny_llama.PARAMETERS,
                                 n_trainable=tiny_llama.PARAMETERS, end_wait=0, **options)
        meter.add_batch(attention_mask=torch.ones(2, 8, dtype=torch.int64))
        meter.step(1)
        outcome["status"] = meter.end()["status"]
    except flopsmeter.FlopsMeterError as error:
        outcome["error"] = str(error)
    with open(os.path.join(directory, f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump(outcome, f)
    torch.distributed.destroy_process_group()


def run_id_in(run_dir):
    with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
        return json.load(f)["run_id"]


class MeterTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.run_dir = os.path.join(self.directory.name, "run")
        self.config = tiny_llama.write_config(self.directory.name)

    def meter(self, run_dir=None, **options):
        counts = {"n_total": tiny_llama.PARAMETERS, "n_trainable": tiny_llama.PARAMETERS}
        return flopsmeter.Meter(run_dir or self.run_dir, **{**counts, **options})

    def test_training_loop_counts_exactly_the_non_padding_tokens(self):
        torch.manual_seed(0)
        model = tiny_llama.TinyLlama()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        batches = tiny_llama.padded_batches(12)
        with self.meter(model=self.config, attention="sdpa") as meter:
            for step in range(1, 7):
                for batch in batches[2 * step - 2: 2 * step]:  # two micro-batches per optimizer step
                    meter.add_batch(**batch)
                    model(**batch).backward()
                optimizer.step()
                optimizer.zero_grad()
                meter.step(step)
        with open(os.path.join(self.run_dir, "flops_meter.json"), encoding="utf-8") as f:
            record = json.load(f)
        self.assertEqual(record["status"], "completed")
        self.assertEqual(exact_tokens(record), mask_tokens(batches))
        spent = record["tokens"]["spent"]
        self.assertEqual(int(spent["positions"]), 12 * 4 * 16)
        self.assertEqual(spent["micro_batches"], 12)
        self.assertEqual(record["N_total"], tiny_llama.PARAMETERS)
        self.assertEqual(record["model"]["method"], "full")

    def test_device_counts_are_read_back_only_at_sync_points(self):
        batches = tiny_llama.padded_batches(5, seed=3)
        reads = []
        item, tolist = torch.Tensor.item, torch.Tensor.tolist

        def spy(original):
            return lambda tensor, *args: reads.append(original.__name__) or original(tensor, *args)

        with on_device(), self.meter() as meter, \
                mock.patch.object(torch.Tensor, "item", spy(item)), \
                mock.patch.object(torch.Tensor, "tolist", spy(tolist)):
            for step, batch in enumerate(batches, 1):
                meter.add_batch(**batch)
                before_sync = meter.step(step, figures=True)
            self.assertEqual(reads, [])
            meter.sync()
            self.assertEqual(len(reads), 1)
            after_sync = meter.step(len(batches) + 1, figures=True)
            # Until the sync every pending position counted as a token.
            self.assertLess(float(after_sync["compute_flop"]), float(before_sync["compute_flop"]))
            record = meter.end()
        self.assertEqual(exact_tokens(record), mask_tokens(batches))

    def test_cpu_batches_are_counted_exactly_without_a_sync(self):
        batches = tiny_llama.padded_batches(3, seed=3)
        with self.meter() as meter:
            for batch in batches:
                meter.add_batch(**batch)
            before_sync = meter.step(1, figures=True)
            meter.sync()
            self.assertEqual(meter.step(2, figures=True)["compute_flop"], before_sync["compute_flop"])
            self.assertEqual(exact_tokens(meter.end()), mask_tokens(batches))

    def test_counts_taken_without_batches_reach_the_record(self):
        batch = tiny_llama.padded_batches(1)[0]
        meter = self.meter()
        meter.add_batch(**batch)
        meter.step(1)
        meter.add_counts(100, 150)  # a trainer's own count, micro-batches unknown
        meter.step(2, figures=True)
        spent = meter.end()["tokens"]["spent"]
        expected = {"tokens": mask_tokens([batch]) + 100, "positions": 4 * 16 + 150, "micro_batches": 1}
        self.assertEqual({key: int(value) for key, value in spent.items() if key in expected}, expected)
        self.assertEqual(meter.world_totals, expected)

    def test_host_and_device_counting_agree(self):
        """The same batches counted on the host (CPU tensors) and as on a
        device give the same tokens and the same sequence histogram, dense and
        varlen; both equal what the masks say."""
        left = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1]])  # left padding
        empty_row = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)  # all-padding row
        wide = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 1], [1, 1, 0, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0]])
        strided = wide.t().contiguous().t()[:, ::2]  # rows 1100, 1010, 1111 with strides (1, 6)
        self.assertFalse(strided.is_contiguous())
        batches = [
            {"input_ids": torch.ones_like(left), "attention_mask": left},                  # rows of 4, 1, 6
            {"input_ids": torch.ones(2, 6, dtype=torch.int64), "attention_mask": empty_row},  # 3, 0
            {"input_ids": torch.ones(3, 4, dtype=torch.int64), "attention_mask": strided},    # 2, 2, 4
            {"input_ids": torch.ones(5, dtype=torch.int64), "attention_mask": torch.tensor([1, 1, 1, 0, 0])},  # 3
            {"input_ids": torch.tensor([[5, 6, 7, 2, 0, 0], [9, 2, 0, 0, 0, 0]]),  # 4, 2 (the mask from the ids)
             "pad_token_id": 0, "eos_token_id": 2},
            {"input_ids": torch.ones(1, 8, dtype=torch.int64),  # packed 3, 2, 3 positions: 3, 2, 2 tokens
             "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1, 1, 0]]),
             "position_ids": torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2]])},
            {"input_ids": torch.ones(1, 6, dtype=torch.int64),  # packed, no mask: 2, 4
             "position_ids": torch.tensor([0, 1, 0, 1, 2, 3])},
            {"input_ids": torch.ones(2, 3, dtype=torch.int64)},  # no mask: every position, 3 and 3
            {"input_ids": torch.ones(1, 6, dtype=torch.int64),  # non-zero entries are tokens, not ones: 5
             "attention_mask": torch.tensor([[1, 1, 2, 2, 2, 0]])},
        ]
        tokens = 11 + 3 + 8 + 3 + 6 + 7 + 6 + 6 + 5  # the batches' in order
        expected = {
            "sdpa": {6: 3 + 2 + 2 + 1 + 1, 4: 3, 5: 1, 8: 1, 3: 2},  # each row at its padded length
            # Each row's or packed sequence's tokens; the all-padding row runs none.
            "flash_attention_2": {1: 1, 2: 2 + 1 + 2 + 1, 3: 1 + 1 + 1 + 2, 4: 1 + 1 + 1 + 1, 5: 1, 6: 1},
        }
        for attention, sequences in expected.items():
            records = {}
            for place in ("host", "device"):
                name = f"{attention}-{place}"
                counting = on_device() if place == "device" else contextlib.nullcontext()
                with counting, self.meter(run_dir=os.path.join(self.directory.name, name),
                                          attention=attention) as meter:
                    for step, batch in enumerate(batches, 1):
                        meter.add_batch(**batch)
                        meter.step(step)
                    self.assertEqual(meter._device_counts is None, place == "host")
                    records[place] = meter.end()
                self.assertEqual(self.journaled_sequences(name), sequences, name)
                self.assertEqual(exact_tokens(records[place]), tokens, name)
            self.assertEqual(records["host"]["tokens"]["spent"], records["device"]["tokens"]["spent"])

    def test_sync_every_reads_back_at_those_steps(self):
        batches = tiny_llama.padded_batches(4, seed=4)
        with self.meter(sync_every=2) as meter, mock.patch.object(meter, "sync", wraps=meter.sync) as sync:
            for step, batch in enumerate(batches, 1):
                meter.add_batch(**batch)
                meter.step(step)
            self.assertEqual(sync.call_count, 2)

    def compute_per_step(self, batch):
        """The compute one step of `batch` adds, as the budget guard sees it."""
        with self.meter(run_dir=os.path.join(self.directory.name, "probe")) as probe:
            probe.add_batch(**batch)
            return int(float(probe.step(1)["compute_flop"]))

    def test_budget_stops_before_the_step_that_would_cross_it(self):
        batch = {"input_ids": torch.ones(4, 16, dtype=torch.int64)}  # no padding: every step the same
        per_step = self.compute_per_step(batch)
        budget = per_step * 10 + per_step // 2
        with self.meter(budget=budget) as meter:
            for step in range(1, 100):
                meter.add_batch(**batch)
                if meter.step(step)["stop"]:
                    break
            record = meter.end()
        self.assertEqual(step, 10)
        self.assertEqual(record["status"], "stopped_by_budget")
        self.assertTrue(record["budget"]["stopped_by_budget"])
        self.assertLessEqual(int(record["compliance"]["exact"]), budget)

    def test_a_run_without_budget_reads_the_state_only_when_asked(self):
        batches = tiny_llama.padded_batches(6, seed=6)
        clock = [100.0]  # 40 ms a step
        with self.meter() as meter, state_requests(meter) as spy, \
                mock.patch.object(flopsmeter.meter.time, "monotonic", lambda: clock[0]):
            states = []
            for step, batch in enumerate(batches, 1):
                meter.add_batch(**batch)
                states.append(meter.step(step, figures=step == 4))
                clock[0] += 0.04
            self.assertEqual(requested_steps(spy), [1, 4])  # the first step learns there is no budget
            # The library hears of steps at most every 0.1 s (2, then 5 at
            # 0.12 s after 2), and whenever the caller asks for figures (4).
            self.assertEqual([c.args[1] for c in spy.call_args_list], [1, 2, 4, 5])
            self.assertEqual(states[5], {"global_step": 6, "stop": False, "new_warnings": []})
            self.assertEqual(states[3]["global_step"], 4)
            self.assertIsNone(states[3]["budget_flop"])
            self.assertIs(meter.last_state, states[3])
            self.assertLess(float(states[0]["compute_flop"]), float(states[3]["compute_flop"]))
            record = meter.end()
        # The untold last step and its batch reach the record at the end.
        self.assertEqual(record["tokens"]["optimizer_steps"], 6)
        self.assertEqual(exact_tokens(record), mask_tokens(batches))

    def test_a_flush_tells_the_library_of_the_last_step(self):
        batches = tiny_llama.padded_batches(3, seed=8)
        with self.meter(journal_interval=3600) as meter:
            for step, batch in enumerate(batches, 1):
                meter.add_batch(**batch)
                meter.step(step)  # 2 and 3 come within 0.1 s of each other
            meter.flush()
            with open(os.path.join(self.run_dir, "journal-rank0.jsonl"), encoding="utf-8") as f:
                last = json.loads(f.read().splitlines()[-1])
        self.assertEqual((last["step"], last["tokens"]), (3, mask_tokens(batches)))

    def test_budget_warnings_and_stop_arrive_at_their_steps(self):
        batch = {"input_ids": torch.ones(4, 16, dtype=torch.int64)}  # every step the same compute
        per_step = self.compute_per_step(batch)
        budget = per_step * 10 + per_step // 2  # 50% after step 6, 80% after 9, 90% after 10
        warnings_by_step = {}
        last_state_steps = []
        with self.meter(budget=budget) as meter, state_requests(meter) as spy, budget_steps(meter) as budget_spy:
            for step in range(1, 100):
                meter.add_batch(**batch)
                state = meter.step(step)
                last_state_steps.append(meter.last_state["global_step"])
                if state["new_warnings"]:
                    warnings_by_step[step] = [w.split(":")[0] for w in state["new_warnings"]]
                if state["stop"]:
                    break
            self.assertEqual(requested_steps(spy), [1])  # the first step learns there is a budget
            self.assertEqual([c.args[1] for c in budget_spy.call_args_list], list(range(2, 11)))
            self.assertTrue(meter.stopped_by_budget)
        self.assertEqual(step, 10)
        self.assertEqual(warnings_by_step, {6: ["budget 50.0% reached at step 6"],
                                            9: ["budget 80.0% reached at step 9"],
                                            10: ["budget 90.0% reached at step 10"]})
        # last_state: the first step's, then each warning's or the stop's.
        self.assertEqual(last_state_steps, [1, 1, 1, 1, 1, 6, 6, 6, 9, 10])
        self.assertTrue(state["stop"])
        self.assertIs(meter.last_state, state)

    def test_a_quiet_budget_step_parses_no_json(self):
        batch = {"input_ids": torch.ones(4, 16, dtype=torch.int64)}
        per_step = self.compute_per_step(batch)
        with self.meter(budget=per_step * 100) as meter:
            meter.add_batch(**batch)
            first = meter.step(1)  # learns there is a budget: the full state
            with mock.patch.object(json, "loads", wraps=json.loads) as loads, \
                    mock.patch.object(_native, "take_string", wraps=_native.take_string) as take_string, \
                    budget_steps(meter) as budget_spy:
                for step in range(2, 6):  # far from the 50% mark
                    meter.add_batch(**batch)
                    self.assertEqual(meter.step(step), {"global_step": step, "stop": False, "new_warnings": []})
                self.assertEqual(budget_spy.call_count, 4)
                self.assertEqual(loads.call_count, 0)
                self.assertEqual(take_string.call_count, 0)
                figures = meter.step(6, figures=True)  # the caller asks: the full state
                self.assertEqual(loads.call_count, 1)
            self.assertIs(meter.last_state, figures)
            self.assertGreater(float(figures["compute_flop"]), float(first["compute_flop"]))

    def test_cpu_counts_reach_the_library_in_one_call_per_step(self):
        batches = tiny_llama.padded_batches(6, seed=7)
        with self.meter(journal_interval=3600) as meter, \
                mock.patch.object(meter._lib, "fm_meter_add", wraps=meter._lib.fm_meter_add) as add, \
                mock.patch.object(meter._lib, "fm_meter_add_sequences",
                                  wraps=meter._lib.fm_meter_add_sequences) as add_sequences:
            for batch in batches[:3]:
                meter.add_batch(**batch)
            self.assertEqual((add.call_count, add_sequences.call_count), (0, 0))
            meter.step(1)
            self.assertEqual([c.args[1:] for c in add.call_args_list], [(mask_tokens(batches[:3]), 3 * 4 * 16, 3)])
            self.assertEqual([c.args[1:] for c in add_sequences.call_args_list], [(16, 12)])
            meter.step(2)  # nothing pending: no call
            self.assertEqual(add.call_count, 1)
            for batch in batches[3:]:
                meter.add_batch(**batch)
            meter.flush()  # a sync point hands them over too
            self.assertEqual(add.call_args.args[1:], (mask_tokens(batches[3:]), 3 * 4 * 16, 3))
            record = meter.end()
        self.assertEqual(exact_tokens(record), mask_tokens(batches))

    def test_killed_run_is_reported_as_crashed_with_its_journal(self):
        tokens_by_step = self.killed_run()
        record = flopsmeter.report(self.run_dir)
        self.assertEqual(record["status"], "crashed")
        self.assertFalse(record["complete"])
        # Up to the last journal line (after step 5); step 6 died unrecorded.
        self.assertEqual(exact_tokens(record), sum(tokens_by_step[:5]))

    def test_resume_after_a_crash_counts_nothing_twice(self):
        tokens_by_step = self.killed_run()
        batches = tiny_llama.padded_batches(6, seed=1)
        with self.meter(resume=True, resume_step=3) as meter:  # restarted from checkpoint-3
            for step in range(4, 7):
                meter.add_batch(**batches[step - 1])
                meter.step(step)
            record = meter.end()
        self.assertEqual(record["status"], "completed")
        # Spent: everything that ran; in the final weights: steps 1-3, then 4-6 once.
        self.assertEqual(exact_tokens(record), sum(tokens_by_step[:5]) + sum(tokens_by_step[3:6]))
        self.assertEqual(int(record["tokens"]["in_final_weights"]["tokens"]), sum(tokens_by_step))
        self.assertEqual(int(record["tokens"]["not_in_final_weights"]), sum(tokens_by_step[3:5]))

    def killed_run(self):
        batches = tiny_llama.padded_batches(6, seed=1)
        child = FORK.Process(target=killed_after_checkpoint, args=(self.run_dir, batches))
        child.start()
        child.join(60)
        self.assertEqual(child.exitcode, -signal.SIGKILL)
        return [int(b["attention_mask"].sum()) for b in batches]

    def test_unknown_option_is_an_error_naming_it(self):
        with self.assertRaises(flopsmeter.FlopsMeterError) as raised:
            self.meter(budget_fracton=0.5)
        self.assertEqual(raised.exception.code, "FM_INVALID_ARGUMENT")
        self.assertIn('unknown option "budget_fracton"', str(raised.exception))
        self.assertIn('did you mean "budget_fraction"', str(raised.exception))
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "journal-rank0.jsonl")))

    def test_errors_speak_python_and_suggest_the_family_member(self):
        # lora_rank once drew "did you mean local-rank": nearer by edit distance, not by kind.
        with self.assertRaises(flopsmeter.FlopsMeterError) as raised:
            self.meter(lora_rank=8)
        self.assertIn('unknown option "lora_rank"; did you mean "lora_r"?', str(raised.exception))
        with self.assertRaises(flopsmeter.FlopsMeterError) as raised:
            self.meter(method="lora", lora_r="eight")
        self.assertIn("lora_r", str(raised.exception))
        self.assertNotIn("--", str(raised.exception))

    def test_a_figure_given_as_a_python_number_is_exact(self):
        # A float 3e23 once reached the record as 300000000000000010000000
        # (%.17g), and so did the int 3 * 10**23, which JSON carries as a
        # double past 64 bits; an int of 27 digits lost its last ten.
        for name, figure, exact in (("float", 3e23, 3 * 10**23), ("int", 3 * 10**23, 3 * 10**23),
                                    ("wide", 123456789012345678901234567, 123456789012345678901234567)):
            record = self.meter(os.path.join(self.directory.name, name), pretrain_flops=figure).end()
            self.assertEqual(record["base_model_compute"]["exact"], str(exact), name)

    def test_pad_equal_to_eos_keeps_the_real_eos(self):
        batches = tiny_llama.padded_batches(3, pad_id=tiny_llama.EOS_ID, seed=5)
        real_tokens = mask_tokens(batches)
        eos = tiny_llama.EOS_ID
        # The attention mask is the authority: each row's real EOS counts.
        self.assertEqual(self.metered_tokens("mask", batches), real_tokens)
        # Without a mask, pad == eos cannot tell them apart: every position counts, never fewer.
        without_mask = [{"input_ids": b["input_ids"]} for b in batches]
        self.assertEqual(self.metered_tokens("same-ids", without_mask, pad_token_id=eos, eos_token_id=eos),
                         3 * 4 * 16)
        # A pad id distinct from eos is compared (never -100, the labels' ignore index).
        distinct = tiny_llama.padded_batches(3, seed=5)
        self.assertEqual(self.metered_tokens("distinct-ids", [{"input_ids": b["input_ids"]} for b in distinct],
                                             pad_token_id=tiny_llama.PAD_ID, eos_token_id=eos),
                         mask_tokens(distinct))

    def metered_tokens(self, name, batches, **ids):
        with self.meter(run_dir=os.path.join(self.directory.name, name)) as meter:
            for batch in batches:
                meter.add_batch(**batch, **ids)
            return exact_tokens(meter.end())

    def test_varlen_kernel_records_each_sequence_length(self):
        mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
        packed = {"input_ids": torch.ones(1, 8, dtype=torch.int64),
                  "position_ids": torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2]])}  # sequences of 3, 2, 3
        with self.meter(attention="flash_attention_2") as meter:
            meter.add_batch(input_ids=torch.ones_like(mask), attention_mask=mask)
            meter.add_batch(**packed)
            meter.end()
        self.assertEqual(self.journaled_sequences(), {2: 2, 3: 3})
        with self.meter(run_dir=os.path.join(self.directory.name, "dense"), attention="sdpa") as meter:
            meter.add_batch(input_ids=torch.ones_like(mask), attention_mask=mask)
            meter.add_batch(**packed)
        self.assertEqual(self.journaled_sequences("dense"), {4: 2, 8: 1})  # padded rows run whole

    def journaled_sequences(self, name="run"):
        sequences = {}
        with open(os.path.join(self.directory.name, name, "journal-rank0.jsonl"), encoding="utf-8") as f:
            for line in f:
                for length, count in json.loads(line).get("sequences", []):
                    sequences[length] = sequences.get(length, 0) + count
        return sequences

    def test_an_exception_ends_the_run_as_failed_and_is_raised(self):
        for exception, status in ((ValueError("bad batch"), "failed"), (KeyboardInterrupt(), "interrupted")):
            run_dir = os.path.join(self.directory.name, status)
            with self.assertRaises(type(exception)):
                with self.meter(run_dir=run_dir) as meter:
                    meter.add_batch(input_ids=torch.ones(2, 8, dtype=torch.int64))
                    raise exception
            with open(os.path.join(run_dir, "flops_meter.json"), encoding="utf-8") as f:
                self.assertEqual(json.load(f)["status"], status)

    def test_the_library_is_found_checked_or_named_in_the_error(self):
        version_h = os.path.join(os.path.dirname(__file__), "..", "..", "include", "flopsmeter", "version.h")
        with open(version_h, encoding="utf-8") as f:
            self.assertIn(f'FLOPSMETER_VERSION_STRING "{flopsmeter.version()}"', f.read())
        missing = os.path.join(self.directory.name, "libflopsmeter.so")
        with mock.patch.object(_native, "_library", None), \
                mock.patch.dict(os.environ, FLOPSMETER_LIBRARY=missing), \
                mock.patch("ctypes.util.find_library", return_value=None):
            with self.assertRaises(flopsmeter.FlopsMeterError) as raised:
                self.meter()
        self.assertEqual(raised.exception.code, "FM_NOT_FOUND")
        self.assertIn(f"FLOPSMETER_LIBRARY: {missing} does not exist", str(raised.exception))
        self.assertIn('find_library("flopsmeter"): nothing found', str(raised.exception))

    def test_an_ended_meter_refuses_further_use(self):
        meter = self.meter()
        meter.end()
        with self.assertRaises(flopsmeter.FlopsMeterError):
            meter.add_batch(input_ids=torch.ones(1, 4, dtype=torch.int64))

    def test_ranks_agree_on_the_budget_stop_and_end_together(self):
        batch = tiny_llama.padded_batches(1, seed=2)[0]
        batch_tokens = int(batch["attention_mask"].sum())
        # Rank 0's compute (the library scales one rank's by the world size)
        # stops it after step 5; rank 1's own stays 0.
        budget = str(2 * self.compute_per_step(batch) * 5 + 1)
        results = self.two_ranks(one_of_two_ranks, self.run_dir, budget, batch)
        with open(os.path.join(self.run_dir, "flops_meter.json"), encoding="utf-8") as f:
            record = json.load(f)
        self.assertEqual(record["status"], "stopped_by_budget")
        self.assertTrue(record["complete"])
        self.assertEqual(exact_tokens(record), batch_tokens * results[0]["stopped_at"])
        self.assertFalse([w for w in record["warnings"] if "all-reduced" in w], record["warnings"])

    def two_ranks(self, target, *args):
        """Runs target(rank, port, *args) as ranks 0 and 1 of a gloo job, in
        two processes; returns what each wrote to DIRECTORY/rank<R>.json."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        children = [FORK.Process(target=target, args=(rank, port, *args)) for rank in (0, 1)]
        for child in children:
            child.start()
        for child in children:
            child.join(90)
        self.assertEqual([child.exitcode for child in children], [0, 0])
        results = []
        for rank in (0, 1):
            with open(os.path.join(self.directory.name, f"rank{rank}.json"), encoding="utf-8") as f:
                results.append(json.load(f))
        return results

    def test_ranks_in_node_local_directories_share_rank_0s_run_id(self):
        outcomes = self.two_ranks(one_of_two_nodes, self.directory.name, {})
        self.assertEqual(outcomes, [{"status": "completed"}, {"status": "completed"}])
        node0, node1 = (os.path.join(self.directory.name, f"node{rank}", "run") for rank in (0, 1))
        self.assertEqual(run_id_in(node0), run_id_in(node1))  # so `flopsmeter merge` takes both shards
        self.assertTrue(os.path.exists(os.path.join(node1, "journal-rank1.jsonl")))

    def test_a_rank_0_that_cannot_begin_does_not_leave_the_others_waiting(self):
        outcomes = self.two_ranks(one_of_two_nodes, self.directory.name, {"budget": "lots"})  # refused by the library
        self.assertIn("error", outcomes[0])
        self.assertIn("rank 0 could not begin the run", outcomes[1]["error"])


if __name__ == "__main__":
    unittest.main()

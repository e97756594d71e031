"""examples/finetune.py end to end, as `make demo` runs it: a real torch
fine-tune metered by flopsmeter.Meter, killed with SIGKILL after a
checkpoint, resumed from it, and stopped by the budget guard. The record
must account for both segments, and the guard must stop within one step of
the budget, on the figure the record reports."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

import flopsmeter

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "finetune.py")


def write_dataset(path):
    """Records of several shapes and one malformed line, as a user's file has them."""
    records = []
    for i in range(64):
        if i % 3 == 0:
            records.append(json.dumps({"messages": [{"role": "user", "content": f"question {i} " * (i % 7 + 1)},
                                                    {"role": "assistant", "content": "an answer " * (i % 11 + 1)}]}))
        elif i % 3 == 1:
            records.append(json.dumps({"text": "plain text sample " * (i % 13 + 1)}))
        else:
            records.append(json.dumps({"instruction": "do this", "input": str(i), "output": "done " * (i % 5 + 1)}))
    records.insert(10, '{"text": "unterminated')
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(records) + "\n")


class FinetuneExampleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "train.jsonl")
        write_dataset(self.data)
        self.output = os.path.join(self.tmp.name, "out")
        self.run_dir = os.path.join(self.output, "run")

    def tearDown(self):
        self.tmp.cleanup()

    def finetune(self, *args):
        command = [sys.executable, EXAMPLE, "--data", self.data, "--output", self.output, "--run", self.run_dir,
                   "--steps", "100", "--checkpoint-every", "4", "--log-every", "2", "--max-length", "48", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    def test_a_killed_then_resumed_run_is_stopped_by_its_budget_on_the_records_figure(self):
        first = self.finetune("--kill-at-step", "6")
        self.assertEqual(first.returncode, -signal.SIGKILL, first.stderr)
        self.assertIn("1 lines skipped as not JSON", first.stdout)
        crashed = flopsmeter.report(self.run_dir)
        self.assertEqual(crashed["status"], "crashed")
        spent_before = int(crashed["compliance"]["exact"])
        self.assertGreater(spent_before, 0)

        # About as much again as the crashed segment spent: the guard must
        # count that segment's compute, or it stops late.
        budget = 2 * spent_before
        second = self.finetune("--resume", "--budget", str(budget))
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("resumed from", second.stdout)
        self.assertIn("the budget guard stops here", second.stdout)

        record = flopsmeter.report(self.run_dir)
        self.assertEqual(record["status"], "stopped_by_budget")
        self.assertEqual(record["warnings"], [])  # torch's parameter count equals the config's plan
        self.assertEqual(record["N_total"], record["N_trainable"])
        spent = int(record["compliance"]["exact"])
        self.assertLessEqual(spent, budget)
        steps_in_second = record["tokens"]["optimizer_steps"] - 4  # resumed from the checkpoint at step 4
        per_step = (spent - spent_before) / steps_in_second
        self.assertGreater(spent + 3 * per_step, budget, "stopped several steps early")

        segments = record["segments"]
        self.assertEqual([s["status"] for s in segments], ["crashed", "stopped_by_budget"])
        self.assertEqual(segments[1]["resumed_from"]["step"], 4)
        # What the crashed segment journaled after its checkpoint at step 4
        # (a line a second: maybe nothing) was spent, but the weights went back to step 4.
        self.assertGreaterEqual(segments[0]["last_step"], 4)
        self.assertEqual(segments[0]["not_in_final_weights"]["reason"], "segment 2 resumed from its checkpoint at step 4")
        self.assertEqual(int(record["exact"]["tokens_processed"]),
                         int(record["tokens"]["in_final_weights"]["tokens"])
                         + int(record["tokens"]["not_in_final_weights"]))


if __name__ == "__main__":
    unittest.main()

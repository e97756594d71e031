"""Overhead of flopsmeter's Python meter on a real torch CPU training loop.

    FLOPSMETER_LIBRARY=BUILD/libflopsmeter.so PYTHONPATH=python \
        /usr/bin/python3 bench/meter_bench.py [--reps N] [--steps N] [--tmp DIR] [--ctypes]

A small language-model-shaped MLP (embedding 128x32, 32->64->32, head
32->128) trains with AdamW on one torch thread; each optimizer step runs 4
micro-batches of 4 rows x 32 positions, right-padded with an attention_mask
(row lengths 8..32). Small, because Debian's torch uses the reference BLAS:
a step is tens of milliseconds of torch work, most of it per-op overhead. With the meter, every micro-batch calls
meter.add_batch(input_ids=..., attention_mask=...) and every step
meter.step(step)["stop"] (flopsmeter.Meter, python/flopsmeter, journal interval 10 s), once without a
budget and once with budget_fraction=0.9 (far from reached), where steps go through fm_meter_step_budget.
The baseline is the same loop without the meter. Runs of the three alternate, the
order rotating per repetition, so the machine's load drifts onto all alike.

When `import flopsmeter` fails (or with --ctypes) the C ABI is called
directly through ctypes per micro-batch (fm_meter_add with the mask's sum
read on the host, fm_meter_add_sequences, fm_meter_step), and the output says
so. Prints tab-separated ROW lines like bench/meter_bench.cc (see
bench/meter_bench.sh). Not a test: no figure is checked.
"""

import argparse
import ctypes
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

VOCAB, DIM, HIDDEN = 128, 32, 64
ROWS, LENGTH, MICRO_BATCHES = 4, 32, 4


def row(section, measure, ours, minimal, baseline, overhead, note):
    """One figure: ours (the meter), minimal (unused here), baseline (no meter), overhead."""
    print("\t".join(["ROW", section, measure, ours, minimal, baseline, overhead, note]), flush=True)


def spread(values, fmt, unit=""):
    return f"min {fmt.format(min(values))}{unit}, max {fmt.format(max(values))}{unit}"


def make_model():
    return nn.Sequential(nn.Embedding(VOCAB, DIM), nn.Linear(DIM, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, DIM),
                         nn.Linear(DIM, VOCAB))


def make_batches(count, generator):
    batches = []
    for _ in range(count):
        lengths = torch.randint(LENGTH // 4, LENGTH + 1, (ROWS,), generator=generator)
        mask = (torch.arange(LENGTH).unsqueeze(0) < lengths.unsqueeze(1)).to(torch.int64)
        ids = torch.randint(1, VOCAB, (ROWS, LENGTH), generator=generator) * mask
        labels = ids.masked_fill(mask == 0, -100)
        batches.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return batches


class PackageMeter:
    """flopsmeter.Meter, as a training loop uses it."""

    mode = "flopsmeter.Meter (python/flopsmeter)"

    def __init__(self, run_dir, parameters, budget_fraction=None):
        import flopsmeter

        self.meter = flopsmeter.Meter(run_dir, model_name="bench-mlp", n_total=parameters, n_trainable=parameters,
                                      journal_interval=10, command=["meter_bench.py"],
                                      budget_fraction=budget_fraction)

    def add(self, batch):
        self.meter.add_batch(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])

    def step(self, global_step):
        return self.meter.step(global_step)["stop"]

    def end(self):
        self.meter.end()


class CtypesMeter:
    """The C ABI called directly: the fallback when the package is missing."""

    mode = "ctypes on the C ABI (fallback)"

    def __init__(self, run_dir, parameters, budget_fraction=None):
        path = os.environ.get("FLOPSMETER_LIBRARY", "libflopsmeter.so")
        lib = ctypes.CDLL(path)
        u64, handle_t = ctypes.c_uint64, ctypes.c_void_p
        lib.fm_meter_begin.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle_t), ctypes.POINTER(ctypes.c_void_p)]
        lib.fm_meter_add.argtypes = [handle_t, u64, u64, u64]
        lib.fm_meter_add.restype = None
        lib.fm_meter_add_sequences.argtypes = [handle_t, u64, u64]
        lib.fm_meter_add_sequences.restype = None
        lib.fm_meter_step.argtypes = [handle_t, u64, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)]
        lib.fm_meter_end.argtypes = [handle_t, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                     ctypes.POINTER(ctypes.c_void_p)]
        lib.fm_meter_free.argtypes = [handle_t]
        lib.fm_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.handle = handle_t()
        error = ctypes.c_void_p()
        options = {"run": run_dir, "model-name": "bench-mlp", "n-total": parameters, "n-trainable": parameters,
                   "journal-interval": 10, "command": ["meter_bench.py"]}
        if budget_fraction is not None:
            options["budget-fraction"] = budget_fraction
        if lib.fm_meter_begin(json.dumps(options).encode(), ctypes.byref(self.handle), ctypes.byref(error)) != 0:
            raise RuntimeError(ctypes.string_at(error.value).decode())

    def add(self, batch):
        mask = batch["attention_mask"]
        rows, length = mask.shape
        self.lib.fm_meter_add(self.handle, int(mask.sum()), rows * length, 1)
        self.lib.fm_meter_add_sequences(self.handle, length, rows)

    def step(self, global_step):
        state, error = ctypes.c_void_p(), ctypes.c_void_p()
        if self.lib.fm_meter_step(self.handle, global_step, ctypes.byref(state), ctypes.byref(error)) != 0:
            raise RuntimeError(ctypes.string_at(error.value).decode())
        stop = json.loads(ctypes.string_at(state.value))["stop"]
        self.lib.fm_free(state)
        return stop

    def end(self):
        record, error = ctypes.c_void_p(), ctypes.c_void_p()
        status = self.lib.fm_meter_end(self.handle, b'{"status": "completed"}', ctypes.byref(record),
                                       ctypes.byref(error))
        self.lib.fm_free(record)
        self.lib.fm_meter_free(self.handle)
        if status != 0:
            raise RuntimeError("fm_meter_end failed")


def run(model, optimizer, batches, steps, meter, first_step):
    """Trains `steps` steps; returns (wall seconds, [seconds of each per-micro-batch call],
    [seconds of each per-step call]): the meter's calls, or their stand-ins without a meter."""
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    add_calls, step_calls = [], []
    sink = 0
    clock = time.perf_counter
    start = clock()
    for s in range(first_step, first_step + steps):
        for m in range(MICRO_BATCHES):
            batch = batches[(s * MICRO_BATCHES + m) % len(batches)]
            logits = model(batch["input_ids"])
            loss = loss_fn(logits.view(-1, VOCAB), batch["labels"].view(-1)) / MICRO_BATCHES
            loss.backward()
            t0 = clock()
            if meter is not None:
                meter.add(batch)
            else:
                sink += 1
            add_calls.append(clock() - t0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t0 = clock()
        if meter is not None:
            if meter.step(s):
                raise RuntimeError("the budget guard stopped the benchmark")
        else:
            sink += 1
        step_calls.append(clock() - t0)
    return clock() - start, add_calls, step_calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    parser.add_argument("--ctypes", action="store_true", help="call the C ABI directly, not the package")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = make_model()
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = make_batches(32, generator)

    meter_class = PackageMeter
    why = ""
    if args.ctypes:
        meter_class, why = CtypesMeter, "--ctypes"
    else:
        try:
            import flopsmeter  # noqa: F401

            flopsmeter.version()  # loads the library
        except Exception as error:  # the package or its library is missing
            meter_class, why = CtypesMeter, f"import flopsmeter failed: {error}"
    print(f"meter_bench.py: torch {torch.__version__}, 1 thread, {parameters} parameters; meter: {meter_class.mode}"
          + (f" ({why})" if why else ""), file=sys.stderr)

    run(model, optimizer, batches, 5, None, 1)  # warm-up
    budget_fractions = {"meter": None, "budget": 0.9}  # the meter's configurations
    configs = ("base", *budget_fractions)
    wall = {c: [] for c in configs}      # ms per step, per run
    inside = {c: [] for c in configs}    # us per step inside the calls, mean over the run
    typical = {c: [] for c in configs}   # us per step from the run's per-call medians
    add_p50 = {c: [] for c in configs}
    step_p50 = {c: [] for c in configs}
    step = 1000
    for r in range(args.reps):
        for config in (configs if r % 2 == 0 else configs[::-1]):
            run_dir = tempfile.mkdtemp(prefix="meter_bench_py.", dir=args.tmp)
            try:
                meter = (meter_class(run_dir, parameters, budget_fractions[config]) if config in budget_fractions
                         else None)
                seconds, adds, steps = run(model, optimizer, batches, args.steps, meter, step)
                if meter is not None:
                    meter.end()
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)
            step += args.steps
            wall[config].append(seconds / args.steps * 1e3)
            inside[config].append((sum(adds) + sum(steps)) / args.steps * 1e6)
            add_p50[config].append(statistics.median(adds) * 1e6)
            step_p50[config].append(statistics.median(steps) * 1e6)
            typical[config].append(MICRO_BATCHES * add_p50[config][-1] + step_p50[config][-1])

    section = "3 torch loop (Python)"
    med = statistics.median
    base = med(wall["base"])
    row(section, "step time, no meter [ms/step]", "", "", f"{base:.2f}", "",
        f"median of {args.reps} runs of {args.steps} steps, {spread(wall['base'], '{:.2f}', ' ms')}; "
        f"{MICRO_BATCHES} micro-batches of {ROWS}x{LENGTH}, AdamW; torch {torch.__version__}, 1 thread")
    for config, budget_fraction in budget_fractions.items():
        label = "" if budget_fraction is None else f", budget_fraction={budget_fraction}"
        ours = med(wall[config])
        diffs_us = [(m - b) * 1e3 for m, b in zip(wall[config], wall["base"])]
        pcts = [(m - b) / b * 100 for m, b in zip(wall[config], wall["base"])]
        row(section, f"wall per step, end to end{label} [ms/step]", f"{ours:.2f}", "", f"{base:.2f}",
            f"{med(diffs_us):+.0f} us ({med(pcts):+.2f}%)",
            f"per-run difference to the same repetition's baseline run: {spread(diffs_us, '{:+.0f}', ' us')} "
            f"({spread(pcts, '{:+.2f}', '%')}); the machine's noise sets this spread; meter: {meter_class.mode}"
            + (f" because {why}" if why else ""))
        t_ours, t_base = med(typical[config]), med(typical["base"])
        row(section, f"inside meter calls, typical{label} [us/step]", f"{t_ours:.0f}", "", f"{t_base:.1f}",
            f"{t_ours - t_base:+.0f} us ({(t_ours - t_base) / (base * 1e3) * 100:.2f}%)",
            f"{MICRO_BATCHES} x p50(per-micro-batch call) + p50(step) per run, median of runs "
            f"({spread(typical[config], '{:.0f}', ' us')}); per-micro-batch p50 {med(add_p50[config]):.0f} us, "
            f"step() p50 {med(step_p50[config]):.0f} us; baseline: the same timers")
        i_ours, i_base = med(inside[config]), med(inside["base"])
        row(section, f"inside meter calls, mean{label} [us/step]", f"{i_ours:.0f}", "", f"{i_base:.1f}",
            f"{i_ours - i_base:+.0f} us ({(i_ours - i_base) / (base * 1e3) * 100:.2f}%)",
            f"every call's time summed over the run / steps, median of runs "
            f"({spread(inside[config], '{:.0f}', ' us')}); includes the process being preempted inside a call, "
            "which a loaded machine does often")


if __name__ == "__main__":
    main()

"""A metered fine-tune on the CPU: a small byte-level Llama (llama_model.py)
trained on a JSON-lines dataset with flopsmeter.Meter, as any PyTorch loop
would meter itself. The README's demo (scripts/demo.sh) runs it twice: once
killed with SIGKILL after a checkpoint, once resumed until the budget guard
stops it.

    FLOPSMETER_LIBRARY=build/libflopsmeter.so PYTHONPATH=python \\
        python3 examples/finetune.py --data train.jsonl.gz --output out --run out/run \\
            --steps 200 --checkpoint-every 20 --budget 2e11 [--resume] [--kill-at-step N]

Each record's text is every string in it, in order (a chat's turns, an
Alpaca record's fields, ...), as UTF-8 bytes plus an end-of-sequence id:
the vocabulary is the 256 bytes, EOS and PAD. Lines that are not JSON are
skipped and counted. Micro-batches are padded to their longest row, so the
attention_mask the meter counts has real padding in it.

The model's config.json is written to OUTPUT/model (the meter plans the
detailed FLOP count on it); checkpoints go to OUTPUT/checkpoint-STEP
(weights, optimizer, data position), and each is announced to the meter, so
a resumed run continues from it and knows what a crash threw away.
"""

import argparse
import gzip
import json
import os
import random
import signal
import sys
import time

import torch

import flopsmeter
from llama_model import TinyLlama

EOS_ID, PAD_ID = 256, 257
CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "vocab_size": 258,
    "hidden_size": 64,
    "intermediate_size": 172,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="JSON lines, optionally .gz")
    parser.add_argument("--output", required=True, help="model config and checkpoints go here")
    parser.add_argument("--run", required=True, help="the meter's run directory")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps in all (default 200)")
    parser.add_argument("--micro-batch-size", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128, help="bytes per sample, EOS included (default 128)")
    parser.add_argument("--checkpoint-every", type=int, default=20)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--budget", help="stop before this many FLOP (the meter's budget guard)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output")
    parser.add_argument("--kill-at-step", type=int, help="SIGKILL this process after this step (a preempted node)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="the model's config.json instead of the byte-level one (with --ids)")
    parser.add_argument("--ids", help="samples as token ids, one sample per line (flopsmeter tokens --ids), "
                                      "instead of --data's bytes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--ledger-model", help="the ledger's model this run trains from (its lineage's figures "
                        "count; the record is appended when the run ends, to --ledger or FLOPSMETER_LEDGER)")
    parser.add_argument("--ledger-produces", help="the model the run makes, registered under --ledger-model")
    return parser.parse_args(argv)


def strings_in(value):
    """Every string in a JSON value, in document order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def read_samples(path, max_length):
    """Byte ids of each record (EOS-terminated, cut at max_length), and the
    number of lines skipped as not JSON."""
    opener = gzip.open if path.endswith(".gz") else open
    samples, skipped = [], 0
    with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            ids = list("\n".join(strings_in(record)).encode("utf-8"))[: max_length - 1] + [EOS_ID]
            if len(ids) > 1:
                samples.append(ids)
    return samples, skipped


def read_ids(path, max_length):
    """Samples already tokenized, one per line, cut at max_length."""
    with open(path, encoding="utf-8") as lines:
        return [ids[:max_length] for ids in ([int(t) for t in line.split()] for line in lines) if len(ids) > 1], 0


def micro_batch(samples):
    """Right-padded to the longest row, with the mask the meter counts."""
    length = max(len(ids) for ids in samples)
    input_ids = torch.full((len(samples), length), PAD_ID, dtype=torch.int64)
    attention_mask = torch.zeros((len(samples), length), dtype=torch.int64)
    for row, ids in enumerate(samples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def batch_order(count, seed):
    """The sample order of every epoch, drawn from the seed alone, so a resumed run sees what the original would."""
    epoch = 0
    while True:
        order = list(range(count))
        random.Random(seed * 1000003 + epoch).shuffle(order)
        yield from order
        epoch += 1


def latest_checkpoint(output):
    """(step, directory) of the newest OUTPUT/checkpoint-STEP, or (0, None)."""
    names = os.listdir(output) if os.path.isdir(output) else []
    steps = [int(name.split("-", 1)[1]) for name in names
             if name.startswith("checkpoint-") and name.split("-", 1)[1].isdigit()]
    return (max(steps), os.path.join(output, f"checkpoint-{max(steps)}")) if steps else (0, None)


def save_checkpoint(output, step, model, optimizer):
    """Weights and optimizer state, written whole or not at all."""
    path = os.path.join(output, f"checkpoint-{step}")
    os.makedirs(path, exist_ok=True)
    partial = os.path.join(path, "state.pt.tmp")
    torch.save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, partial)
    os.replace(partial, os.path.join(path, "state.pt"))
    return path


def main(argv):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    if (args.data is None) == (args.ids is None):
        sys.exit("finetune: give --data or --ids")
    samples, skipped = read_ids(args.ids, args.max_length) if args.ids else read_samples(args.data, args.max_length)
    if not samples:
        sys.exit(f"finetune: {args.data or args.ids}: no records")
    config = json.load(open(args.config)) if args.config else CONFIG
    model = TinyLlama(config, attn_implementation="eager", name_or_path="byte-llama-demo")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    start = 0
    if args.resume:
        start, path = latest_checkpoint(args.output)
        if path is None:
            sys.exit(f"finetune: --resume: no checkpoint-STEP directory in {args.output}")
        state = torch.load(os.path.join(path, "state.pt"))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        print(f"resumed from {path} (step {start})")

    # What a user writes: the counts and method from the model as it trains,
    # its config saved for the detailed formula, the run's budget.
    options = flopsmeter.model_options(model, config_dir=os.path.join(args.output, "model"))
    # The step's bounds (rows of at most max_length, micro_batch_size rows,
    # grad_accum micro-batches) make the budget a guarantee, not a prediction.
    meter = flopsmeter.Meter(args.run, options, budget=args.budget, resume=args.resume or None,
                             resume_step=start if args.resume else None, dataset=[args.data or args.ids],
                             command=[sys.executable, *sys.argv], journal_interval=1,
                             max_length=args.max_length, micro_batch_size=args.micro_batch_size,
                             grad_accum=args.grad_accum, ledger_model=args.ledger_model,
                             ledger_produces=args.ledger_produces)
    total, trainable = options["n-total"], options["n-trainable"]
    print(f"model {total:,} parameters ({trainable:,} trainable); {len(samples):,} samples, "
          f"{skipped} lines skipped as not JSON")

    order = batch_order(len(samples), args.seed)
    for _ in range(start * args.grad_accum * args.micro_batch_size):
        next(order)
    step = start
    began, tokens = time.monotonic(), 0
    with meter:
        while step < args.steps:
            step += 1
            for _ in range(args.grad_accum):
                batch = micro_batch([samples[next(order)] for _ in range(args.micro_batch_size)])
                meter.add_batch(**batch)
                tokens += int(batch["attention_mask"].sum())
                loss = model(**batch) / args.grad_accum
                loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            logging = step % args.log_every == 0
            state = meter.step(step, figures=logging)
            if logging or state["new_warnings"]:
                budget = f", {100 * state['budget_fraction']:.0f}% of the budget" if state.get("budget_fraction") else ""
                warnings = "".join(f"; {warning}" for warning in state["new_warnings"])
                print(f"step {step:4d}  loss {loss.item() * args.grad_accum:.3f}  "
                      f"compute {float(state.get('compute_flop') or 0):.3g} FLOP{budget}{warnings}", flush=True)
            if state["stop"] or step % args.checkpoint_every == 0:
                meter.checkpoint(step, save_checkpoint(args.output, step, model, optimizer))
            if state["stop"]:
                print(f"step {step:4d}  the budget guard stops here: one more step would cross {args.budget} FLOP")
                break
            if step == args.kill_at_step:
                print(f"step {step:4d}  SIGKILL (simulating a preempted node)", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
    seconds = time.monotonic() - began
    print(f"trained {tokens:,} tokens in {seconds:.2f} s ({tokens / seconds:,.0f} tokens/s)")
    print(f"ended at step {step}; the record is {os.path.join(args.run, 'flops_meter.json')}")


if __name__ == "__main__":
    main(sys.argv[1:])

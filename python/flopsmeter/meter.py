"""flopsmeter.Meter: meters any PyTorch training loop through libflopsmeter.

    with flopsmeter.Meter("runs/a", model="config.json", n_total=n, n_trainable=t,
                          attention="sdpa", budget_fraction=0.9) as meter:
        for step, batch in enumerate(loader, 1):
            meter.add_batch(**batch)          # per micro-batch: no device-to-host copy
            loss = model(**batch).loss; loss.backward(); optimizer.step()
            if meter.step(step)["stop"]:      # budget guard
                save(...); meter.checkpoint(step, "ckpt"); break
    # the with block ends the run: flops_meter.json

Tokens are counted on the batches' device: each micro-batch adds its
non-padding count to a device tensor and its executed positions (batch x
sequence length, known on the host) to the library at once; the device counts
are read back in one copy only at sync points (sync(), checkpoint(), flush(),
end(), every `sync_every` steps, and every step once compute passes 90% of a
budget). Until then the library's budget guard counts each pending position
as a token, which can only stop a run early, never late.
"""

import collections
import ctypes
import json
import os
import warnings

from . import _distributed
from . import _native
from ._native import FlopsMeterError

# Attention kernels that run each sequence unpadded (varlen): their cost
# depends on every row's own length, so lengths are histogrammed on the device.
_VARLEN_KERNELS = frozenset({"flash", "flash_attention_2", "flash_attention_3"})

# Above this share of the budget every step syncs, so that the stop decision
# near the budget rests on exact token counts.
_EXACT_BUDGET_FRACTION = 0.9


def option_key(name):
    """The library's option name for a Python name: n_total -> n-total."""
    return name.replace("_", "-")


def _option_value(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (tuple, set, frozenset)):
        return [_option_value(item) for item in value]
    if isinstance(value, list):
        return [_option_value(item) for item in value]
    return value


def meter_options(options):
    """Library options from Python ones: dashed keys, paths as text, None left out."""
    return {option_key(key): _option_value(value) for key, value in options.items() if value is not None}


class _LocalTotals:
    """What this process executed in this segment, for the world totals at end."""

    def __init__(self):
        self.tokens = 0
        self.positions = 0
        self.micro_batches = 0
        self.sequences = collections.Counter()


class Meter:
    """One process's meter of a run (create it on every rank, after
    torch.distributed.init_process_group when there is one).

    Meter(run_dir, options=None, *, sync_every=None, **options): `options`
    (a dict) and keyword options are the library's (docs/meter.md), with
    underscores for dashes: model, n_total, n_trainable, method, lora_r,
    attention, gradient_checkpointing, pretrain_flops, budget,
    budget_fraction, nvml, resume, resume_step, out, job_name, recipe,
    epochs, ... rank and world_size default to the process group's. The
    environment (PRETRAIN_FLOPS, FLOPS_METER_NVML, FLOPS_METER_OUT, RANK,
    WORLD_SIZE, LOCAL_RANK, TRAINING_JOB_NAME) is read by the library; an
    explicit option wins over its variable.

    Begins (or resumes) the run at once. Raises FlopsMeterError naming a bad
    option. Not thread-safe: call it from the training thread.
    """

    def __init__(self, run_dir, options=None, *, sync_every=None, **keyword_options):
        merged = {**_distributed.rank_options(), **meter_options(options or {}),
                  **meter_options(keyword_options), "run": os.fspath(run_dir)}
        self.options = merged
        self.sync_every = sync_every
        self._varlen = str(merged.get("attention", "")) in _VARLEN_KERNELS
        self._has_budget = "budget" in merged or "budget-fraction" in merged
        self._handle = None
        handle = ctypes.c_void_p()
        _native.call("fm_meter_begin", _native.encode_json(merged), ctypes.byref(handle))
        self._handle = handle
        self._lib = _native.library()
        # Collective: every rank creates its meter at the same point.
        self._host_group = _distributed.HostGroup()
        self._totals = _LocalTotals()
        # int64 on the batches' device: [0] non-padding tokens since the last
        # sync; with a varlen kernel [1 + L] sequences of length L.
        self._device_counts = None
        self._warned_pad_without_eos = False
        self.stopped_by_budget = False
        self.last_state = None

    # --- per micro-batch -------------------------------------------------

    def add_batch(self, attention_mask=None, input_ids=None, labels=None, pad_token_id=None,
                  eos_token_id=None, position_ids=None, inputs_embeds=None, **other_inputs):
        """Counts one micro-batch (one forward pass); call it with the batch's
        tensors (`meter.add_batch(**batch)`), before or after the forward pass.

        Tokens: attention_mask is the authority (its ones are the tokens).
        Without it, input_ids != pad_token_id when eos_token_id is given and
        differs from pad_token_id; otherwise every position counts (pad == eos
        would drop real EOS tokens, and a pad id is never -100). labels are
        not used to count: prompt positions masked with -100 still run forward
        and backward. Other inputs (pixel_values, ...) are ignored.

        Attention sequences: with a dense kernel each row is one sequence of
        the padded length. With a varlen kernel (attention="flash_attention_2")
        each row's own token count is a sequence, and packed rows (a
        padding-free collator's position_ids, restarting at 0 at each
        sequence) are split at every restart.
        """
        shaped = next((t for t in (attention_mask, input_ids, inputs_embeds, labels) if t is not None), None)
        if shaped is None:
            raise ValueError("add_batch needs attention_mask, input_ids, inputs_embeds or labels")
        rows, length = (1, shaped.shape[0]) if shaped.dim() == 1 else (shaped.shape[0], shaped.shape[1])
        positions = rows * length
        handle = self._live_handle()
        token_mask = self._token_mask(attention_mask, input_ids, pad_token_id, eos_token_id)
        if token_mask is None:
            self._lib.fm_meter_add(handle, positions, positions, 1)
            self._totals.tokens += positions
        else:
            token_mask = token_mask.reshape(rows, length)
            counts = self._counts_on(token_mask.device, length)
            counts[0].add_(token_mask.ne(0).sum().to(counts.device))
            self._lib.fm_meter_add_positions(handle, positions, 1)
        self._totals.positions += positions
        self._totals.micro_batches += 1
        if self._varlen and (token_mask is not None or position_ids is not None):
            self._count_varlen_sequences(token_mask, position_ids, rows, length)
        else:
            self._lib.fm_meter_add_sequences(handle, length, rows)
            self._totals.sequences[length] += rows

    def _token_mask(self, attention_mask, input_ids, pad_token_id, eos_token_id):
        """A tensor whose non-zero entries are the tokens, or None for "all positions"."""
        if attention_mask is not None:
            return attention_mask
        if input_ids is None or pad_token_id is None:
            return None
        if eos_token_id is None:
            if not self._warned_pad_without_eos:
                warnings.warn("add_batch: pad_token_id without eos_token_id; every position counts, since "
                              "the pad id may be the EOS id (pass attention_mask, or both ids)")
                self._warned_pad_without_eos = True
            return None
        if pad_token_id == eos_token_id:
            return None
        return input_ids != pad_token_id

    def _counts_on(self, device, longest):
        """The device counts (made on `device`, the first batch's), with room
        for sequences of `longest` positions."""
        import torch

        size = 2 + longest if self._varlen else 1
        counts = self._device_counts
        if counts is None or counts.numel() < size:
            grown = torch.zeros(size, dtype=torch.int64, device=device if counts is None else counts.device)
            if counts is not None:
                grown[: counts.numel()] += counts
            self._device_counts = counts = grown
        return counts

    def _count_varlen_sequences(self, token_mask, position_ids, rows, length):
        """Adds each executed sequence's length to the device histogram."""
        import torch

        if position_ids is None:
            lengths = token_mask.ne(0).sum(dim=1)
        else:
            starts = position_ids.expand(rows, length) == 0
            starts[:, 0] = True  # every row starts a sequence
            segment = starts.reshape(-1).to(torch.int64).cumsum(0) - 1
            # Each position adds 1 to its sequence's length, padding 0.
            weights = (torch.ones_like(segment) if token_mask is None
                       else token_mask.reshape(-1).ne(0).to(device=segment.device, dtype=torch.int64))
            lengths = torch.zeros_like(segment).scatter_add_(0, segment, weights)
        counts = self._counts_on(lengths.device, length)
        lengths = lengths.to(counts.device)
        counts.scatter_add_(0, lengths + 1, torch.ones_like(lengths))

    # --- sync points -----------------------------------------------------

    def sync(self):
        """Reads the device counts back (one copy) and hands them to the library."""
        handle = self._live_handle()
        counts = self._device_counts
        if counts is None:
            return
        values = counts.tolist()
        counts.zero_()
        self._lib.fm_meter_sync_tokens(handle, values[0])
        self._totals.tokens += values[0]
        for length, count in enumerate(values[2:], start=1):  # [1] holds empty rows
            if count:
                self._lib.fm_meter_add_sequences(handle, length, count)
                self._totals.sequences[length] += count

    def step(self, global_step):
        """An optimizer step finished: returns the budget state (dict), e.g.
        {"global_step": 10, "compute_flop": "1.2e18", "budget_fraction": 0.42,
        "threshold_fraction": 0.1, "new_warnings": [...], "stop": False}.

        "stop" is True when one more step would cross the budget; then save a
        checkpoint, call checkpoint(), and end the run (end() then defaults to
        status "stopped_by_budget"). Across ranks the stop is agreed (one
        host-side all-reduce per step, only when a budget is set), so every
        rank stops at the same step.
        """
        near_budget = (self.last_state or {}).get("budget_fraction", 0) >= _EXACT_BUDGET_FRACTION
        if near_budget or (self.sync_every and global_step % self.sync_every == 0):
            self.sync()
        state = json.loads(_native.call("fm_meter_step", self._live_handle(), global_step, returns_text=True))
        if self._has_budget and self._host_group.active:
            state["stop"] = self._host_group.any(state.get("stop", False))
        if state.get("stop"):
            self.stopped_by_budget = True
        self.last_state = state
        return state

    def checkpoint(self, global_step, path):
        """A checkpoint of the weights was saved at `global_step` (journal line, fsync)."""
        self.sync()
        _native.call("fm_meter_checkpoint", self._live_handle(), global_step, os.fsencode(path))

    def flush(self):
        """Writes a progress line to the journal now (fsync)."""
        self.sync()
        _native.call("fm_meter_flush", self._live_handle())

    def end(self, status=None, global_step=None, world=None):
        """Ends this process's segment and returns the record (dict); rank 0
        also writes flops_meter.json. Frees the meter.

        status: "completed" (default), "stopped_by_budget" (default once a
        step said stop), "failed" or "interrupted". world: the job's totals
        (see fm_meter_end); by default, when a process group has several ranks
        and the run ends normally, every rank sums its totals in two host-side
        all-reduces. A failed or interrupted end skips them, because the other
        ranks may still be training and would never join.
        """
        self.sync()
        if status is None:
            status = "stopped_by_budget" if self.stopped_by_budget else "completed"
        if world is None and self._host_group.active and status in ("completed", "stopped_by_budget"):
            totals = self._totals
            world = self._host_group.sum_totals(totals.tokens, totals.positions, totals.micro_batches,
                                                totals.sequences)
        end = {"status": status}
        if global_step is not None:
            end["global_step"] = global_step
        if world is not None:
            end["world"] = world
        try:
            record = _native.call("fm_meter_end", self._live_handle(), _native.encode_json(end), returns_text=True)
        finally:
            self.close()
        return json.loads(record) if record else None

    def close(self):
        """Frees the meter without ending the run: the journal stays as a crash
        leaves it, and report() finalises it."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.fm_meter_free(handle)

    def _live_handle(self):
        if self._handle is None:
            raise FlopsMeterError("the meter has ended or was closed", "FM_INVALID_ARGUMENT")
        return self._handle

    def __enter__(self):
        return self

    def end_after(self, exception):
        """Ends the run that `exception` broke off: status "interrupted" for
        KeyboardInterrupt, else "failed". A failure to end is only warned
        about, so that the training error stays the one raised."""
        status = "interrupted" if isinstance(exception, KeyboardInterrupt) else "failed"
        try:
            self.end(status)
        except FlopsMeterError as end_error:
            warnings.warn(f"flopsmeter: ending the run after {type(exception).__name__} failed: {end_error}")

    def __exit__(self, exception_type, exception, traceback):
        if self._handle is not None:
            if exception is None:
                self.end()
            else:
                self.end_after(exception)
        return False

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()


def report(run_dir, write=False, out=None, data_dir=None):
    """The record (dict) of the run in `run_dir` from its journals (all ranks,
    all segments); a run whose processes died is reported as crashed. With
    write, (re)writes flops_meter.json (or `out`) atomically."""
    options = meter_options({"write": write or None, "out": out, "data_dir": data_dir})
    record = _native.call("fm_report_run", os.fsencode(run_dir), _native.encode_json(options or None),
                          returns_text=True)
    return json.loads(record)

"""flopsmeter.Meter: meters any PyTorch training loop through libflopsmeter.

    with flopsmeter.Meter("runs/a", model="config.json", n_total=n, n_trainable=t,
                          attention="sdpa", budget_fraction=0.9) as meter:
        for step, batch in enumerate(loader, 1):
            meter.add_batch(**batch)          # per micro-batch: no device-to-host copy
            loss = model(**batch).loss; loss.backward(); optimizer.step()
            if meter.step(step)["stop"]:      # budget guard
                save(...); meter.checkpoint(step, "ckpt"); break
    # the with block ends the run: flops_meter.json

Tokens of batches on an accelerator are counted on their device: each
micro-batch adds its non-padding count to a device tensor, read back in one
copy only at sync points (sync(), checkpoint(), flush(), end(), every
`sync_every` steps, and every step once compute passes 90% of a budget).
Until then the library's budget guard counts each pending position as a
token, which can only stop a run early, never late. Batches on the CPU are
counted on the host (reading their count copies nothing).

What is known on the host (tokens of CPU batches, executed positions,
micro-batches, sequence lengths) is added up in Python and handed to the
library in one call per kind at every sync point and at step(): every step
with a budget, at most every 0.1 s without one (a cold ctypes call costs
more than the count). So at most the last 0.1 s of micro-batches (or those
since the last step() with a budget) are not in the library yet, and only
those are missing from a journal line the library's thread writes
meanwhile, beyond what a process that dies loses after its last line.
"""

import collections
import ctypes
import json
import os
import time
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

# Without a budget, step() tells the library of the steps (and hands over the
# host counts) at most this often: its journal lines come every few seconds,
# so it needs no more, and a cold ctypes call costs more than a fast step's
# counting. Sync points (checkpoint, flush, end, sync) always hand over.
_HAND_OVER_SECONDS = 0.1


def option_key(name):
    """The library's option name for a Python name: n_total -> n-total."""
    return name.replace("_", "-")


def _option_value(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**64:
        # As decimal text: the library's JSON reads an integer past 64 bits
        # as a double, and a FLOP figure (pretrain_flops=3 * 10**23) would
        # lose its last digits.
        return str(value)
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


class _PendingCounts:
    """Counts taken on the host since the last hand-over to the library:
    micro-batches whose tokens were counted on the host (with those tokens and
    their positions), micro-batches whose tokens are counted on the device
    (with their positions), and executed attention sequences by length."""

    def __init__(self):
        self.sequences = collections.Counter()
        self.clear()

    def clear(self):
        self.tokens = 0
        self.positions = 0
        self.micro_batches = 0
        self.device_positions = 0
        self.device_micro_batches = 0
        self.sequences.clear()


def _ended_error():
    return FlopsMeterError("the meter has ended or was closed", "FM_INVALID_ARGUMENT")


class Meter:
    """One process's meter of a run (create it on every rank, after
    torch.distributed.init_process_group when there is one).

    Meter(run_dir, options=None, *, sync_every=None, **options): `options`
    (a dict) and keyword options are the library's (docs/meter.md), with
    underscores for dashes: model, n_total, n_trainable, method, lora_r,
    attention, gradient_checkpointing, pretrain_flops, budget,
    budget_fraction, nvml, resume, resume_step, out, job_name, recipe,
    epochs, ... rank and world_size default to the process group's. The
    environment (FLOPSMETER_PRETRAIN_FLOPS, FLOPSMETER_NVML, FLOPSMETER_OUT, with
    the AWS toolkit's PRETRAIN_FLOPS and FLOPS_METER_* as aliases; RANK,
    WORLD_SIZE, LOCAL_RANK, TRAINING_JOB_NAME) is read by the library; an
    explicit option wins over its variable.

    Begins (or resumes) the run at once. Raises FlopsMeterError naming a bad
    option. Not thread-safe: call it from the training thread.
    """

    # Batches on the CPU are counted on the host at once (reading their count
    # copies nothing); False counts them as batches on an accelerator are,
    # which is how the tests reach that path on a machine without one.
    _cpu_batches_on_host = True

    def __init__(self, run_dir, options=None, *, sync_every=None, **keyword_options):
        merged = {**_distributed.rank_options(), **meter_options(options or {}),
                  **meter_options(keyword_options), "run": os.fspath(run_dir)}
        self.options = merged
        self.sync_every = sync_every
        self._varlen = str(merged.get("attention", "")) in _VARLEN_KERNELS
        # Whether the library keeps a budget, from the first step's state
        # (budget_flop); None until then. With one, steps go through
        # fm_meter_step_budget, which gives the stop as a flag and the state
        # only with a warning or a stop.
        self._has_budget = None
        self._handle = None
        # Collective: every rank creates its meter at the same point.
        self._host_group = _distributed.HostGroup()
        self._handle = self._begin(merged)
        self._lib = _native.library()
        self._totals = _LocalTotals()
        self._pending = _PendingCounts()
        # int64 on the device of the first batch counted there, read back at a
        # sync: [0] non-padding tokens of dense batches since the last sync;
        # with a varlen kernel [1 + L] sequences of length L, whose tokens are
        # the sum of their lengths. Views into it (_device_tokens [0],
        # _device_sequences [1:]) take the adds, one dispatch each.
        self._device_counts = None
        self._device_tokens = None
        self._device_sequences = None
        self._device_ones = None  # scatter_add_'s source for the histogram, grown as needed
        self._warned_pad_without_eos = False
        self.stopped_by_budget = False
        # After end(): this segment's {"tokens", "positions", "micro_batches"}
        # over all ranks, as the library was given them; None before, and
        # after a failed or interrupted end of a multi-rank job (no collectives).
        self.world_totals = None
        # The last full state the library gave (see step()); None before one.
        self.last_state = None
        # Without a budget: when step() next tells the library, and the last
        # step it has not been told of (None when told of all).
        self._next_hand_over = 0.0
        self._untold_step = None

    def _begin(self, options):
        """fm_meter_begin. With several ranks and no run-id given, rank 0
        begins first and its run id goes to the others: their run
        directories may be node-local, and `flopsmeter merge` takes shards
        of one run id only. A rank 0 that fails still answers (None), so the
        others raise instead of waiting."""
        handle = ctypes.c_void_p()
        shares_id = (self._host_group.active and "run-id" not in options
                     and not _native.env_setting("RUN_ID"))
        if not shares_id:
            _native.call("fm_meter_begin", _native.encode_json(options), ctypes.byref(handle))
            return handle
        if options.get("rank", 0) == 0:
            try:
                _native.call("fm_meter_begin", _native.encode_json(options), ctypes.byref(handle))
            except BaseException:
                self._host_group.from_rank0(None)
                raise
            self._host_group.from_rank0(_native.library().fm_meter_run_id(handle).decode())
            return handle
        run_id = self._host_group.from_rank0(None)
        if run_id is None:
            raise FlopsMeterError("rank 0 could not begin the run (its error says why)", "FM_INVALID_ARGUMENT")
        _native.call("fm_meter_begin", _native.encode_json({**options, "run-id": run_id}), ctypes.byref(handle))
        return handle

    # --- per micro-batch -------------------------------------------------

    def add_batch(self, attention_mask=None, input_ids=None, labels=None, pad_token_id=None,
                  eos_token_id=None, position_ids=None, inputs_embeds=None, **other_inputs):
        """Counts one micro-batch (one forward pass); call it with the batch's
        tensors (`meter.add_batch(**batch)`), before or after the forward pass.

        Tokens: attention_mask (batch x length) is the authority: its
        non-zero entries are the tokens. Without it, input_ids != pad_token_id
        when eos_token_id is given and differs from pad_token_id; otherwise
        every position counts (pad == eos would drop real EOS tokens, and a
        pad id is never -100). labels are not used to count: prompt positions
        masked with -100 still run forward and backward. Other inputs
        (pixel_values, ...) are ignored. What is counted reaches the library
        at the next step() or sync point; a device batch's tokens at the next
        sync point.

        Attention sequences: with a dense kernel each row is one sequence of
        the padded length. With a varlen kernel (attention="flash_attention_2")
        each row's own token count is a sequence, and packed rows (a
        padding-free collator's position_ids, restarting at 0 at each
        sequence) are split at every restart.
        """
        # This runs between a backward pass and the next forward, with the
        # CPU's caches full of torch's state, where each Python call costs
        # about a microsecond: the common case (a dense kernel) is written out
        # here rather than in helpers.
        if self._handle is None:
            raise _ended_error()
        for shaped in (attention_mask, input_ids, inputs_embeds, labels):
            if shaped is not None:
                break
        else:
            raise ValueError("add_batch needs attention_mask, input_ids, inputs_embeds or labels")
        rows, length = (1, shaped.shape[0]) if shaped.dim() == 1 else (shaped.shape[0], shaped.shape[1])
        positions = rows * length
        token_mask = attention_mask if attention_mask is not None else self._token_mask_from_ids(
            input_ids, pad_token_id, eos_token_id)
        if token_mask is not None and token_mask.dim() > 2:
            raise ValueError(f"add_batch: a mask of shape {tuple(token_mask.shape)}; it counts the (batch, length) "
                             "padding mask, not a 4-D attention mask")
        pending = self._pending
        varlen = self._varlen and (token_mask is not None or position_ids is not None)
        if varlen:
            host = self._cpu_batches_on_host and (position_ids if token_mask is None else token_mask).is_cpu
            count = self._count_varlen_on_host if host else self._count_varlen_on_device
            count(pending, token_mask, position_ids, rows, length)
            return
        if token_mask is None:  # every position is a token
            pending.tokens += positions
            pending.positions += positions
            pending.micro_batches += 1
        elif self._cpu_batches_on_host and token_mask.is_cpu:  # its count is read without a device copy
            pending.tokens += int(token_mask.count_nonzero())
            pending.positions += positions
            pending.micro_batches += 1
        else:
            self._add_device_tokens(token_mask)
            pending.device_positions += positions
            pending.device_micro_batches += 1
        # Each row is one sequence of the padded length.
        pending.sequences[length] += rows

    def add_counts(self, tokens, positions, micro_batches=0):
        """Adds counts taken without the batches, e.g. a trainer's own token
        count: `tokens` non-padding tokens in `positions` executed positions
        over `micro_batches` forward passes (0: not known). They bring no
        sequence lengths, so the record's detailed count cannot cover them.
        They reach the library at the next step() or sync point."""
        self._live_handle()
        pending = self._pending
        pending.tokens += tokens
        pending.positions += positions
        pending.micro_batches += micro_batches

    def _token_mask_from_ids(self, input_ids, pad_token_id, eos_token_id):
        """Without attention_mask: a tensor whose non-zero entries are the tokens, or None for "all positions"."""
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

    def _add_device_tokens(self, token_mask):
        """Adds a dense batch's non-padding count to the device counts, without
        waiting for the device."""
        device = token_mask.device
        counts = self._counts_on(device, 0)
        tokens = token_mask.count_nonzero()  # int64, like the counts
        self._device_tokens.add_(tokens if device == counts.device else tokens.to(counts.device))

    def _count_varlen_on_host(self, pending, token_mask, position_ids, rows, length):
        """Counts a CPU batch's tokens and sequence lengths on the host."""
        lengths = self._sequence_lengths(token_mask, position_ids, rows, length)
        # Rows without a token, and the unused slots of packed rows, run no attention.
        executed = lengths[lengths.ne(0)].tolist()
        pending.tokens += sum(executed)
        pending.positions += rows * length
        pending.micro_batches += 1
        pending.sequences.update(executed)

    def _count_varlen_on_device(self, pending, token_mask, position_ids, rows, length):
        """Adds a batch's sequence lengths to the device histogram (their sum
        is its tokens), without waiting for the device, and its positions to
        the pending counts."""
        lengths = self._sequence_lengths(token_mask, position_ids, rows, length)
        device = lengths.device
        counts = self._counts_on(device, length)
        if device != counts.device:
            lengths = lengths.to(counts.device)
        ones = self._device_ones
        if ones is None or ones.numel() < lengths.numel():
            self._device_ones = ones = counts.new_ones(lengths.numel())
        self._device_sequences.scatter_add_(0, lengths, ones)
        pending.device_positions += rows * length
        pending.device_micro_batches += 1

    def _counts_on(self, device, longest):
        """The device counts (made on `device`, the first device batch's), with
        room for sequences of `longest` positions."""
        size = 2 + longest if self._varlen else 1
        counts = self._device_counts
        if counts is None or counts.numel() < size:
            import torch

            grown = torch.zeros(size, dtype=torch.int64, device=device if counts is None else counts.device)
            if counts is not None:
                grown[: counts.numel()] = counts
            self._device_counts = counts = grown
            self._device_tokens = counts[0]
            self._device_sequences = counts[1:]
        return counts

    @staticmethod
    def _sequence_lengths(token_mask, position_ids, rows, length):
        """Each executed sequence's token count (int64, on the batch's device):
        one per row, or with position_ids one per packed sequence (a restart
        at 0), in a slot per position of which the unused ones stay 0."""
        if position_ids is None:
            rows_mask = token_mask if token_mask.dim() == 2 else token_mask.reshape(rows, length)
            return rows_mask.count_nonzero(dim=1)
        starts = position_ids.expand(rows, length) == 0
        starts[:, 0] = True  # every row starts a sequence
        segment = starts.reshape(-1).cumsum(0) - 1  # int64
        # Each position adds 1 to its sequence's length, padding 0.
        weights = (segment.new_ones(segment.shape) if token_mask is None
                   else token_mask.reshape(-1).ne(0).to(device=segment.device, dtype=segment.dtype))
        return segment.new_zeros(segment.shape).scatter_add_(0, segment, weights)

    def _hand_over(self, handle):
        """Hands the counts pending on the host to the library, one call per kind."""
        pending = self._pending
        host = pending.micro_batches or pending.positions  # add_counts may know no micro-batches
        if not (host or pending.device_micro_batches):
            return
        lib = self._lib
        if host:
            lib.fm_meter_add(handle, pending.tokens, pending.positions, pending.micro_batches)
        if pending.device_micro_batches:
            lib.fm_meter_add_positions(handle, pending.device_positions, pending.device_micro_batches)
        totals = self._totals
        # A loop, not Counter.update: cold, that costs about 10 µs a step.
        sequences = totals.sequences
        for length, count in pending.sequences.items():
            lib.fm_meter_add_sequences(handle, length, count)
            sequences[length] += count
        totals.tokens += pending.tokens
        totals.positions += pending.positions + pending.device_positions
        totals.micro_batches += pending.micro_batches + pending.device_micro_batches
        pending.clear()

    # --- sync points -----------------------------------------------------

    def sync(self):
        """Hands the pending counts to the library, and reads the device
        counts back (one copy) and hands them over too."""
        handle = self._live_handle()
        self._hand_over(handle)
        counts = self._device_counts
        if counts is None:
            return
        values = counts.tolist()
        counts.zero_()
        sequences = values[1:]  # [L]: sequences of length L
        tokens = values[0] + sum(length * count for length, count in enumerate(sequences))
        self._lib.fm_meter_sync_tokens(handle, tokens)
        totals = self._totals
        totals.tokens += tokens
        for length, count in enumerate(sequences):
            if length and count:  # a sequence without a token runs no attention
                self._lib.fm_meter_add_sequences(handle, length, count)
                totals.sequences[length] += count

    def step(self, global_step, figures=False):
        """An optimizer step finished: returns the budget state (dict).

        Always {"global_step", "stop", "new_warnings"}: "stop" is True when
        one more step would cross the budget; then save a checkpoint, call
        checkpoint(), and end the run (end() then defaults to status
        "stopped_by_budget"). "new_warnings" are the budget's 50/80/90% marks
        crossed at this step.

        With the figures as well, e.g. {"global_step": 10, "compute_flop":
        "1.2e18", "budget_flop": "3e18", "budget_fraction": 0.42,
        "threshold_flop": ..., "threshold_fraction": 0.1, "new_warnings": [],
        "stop": False}, when the library gave its full state: at the first
        step (which tells whether there is a budget), at any step called with
        figures=True, and, with a budget, at a step that raised a warning or
        says stop. Otherwise the state is neither written nor parsed, which
        is most of step()'s cost: without a budget fm_meter_step is asked for
        none, and called (with the counts pending on the host) at most every
        0.1 s; with one fm_meter_step_budget gives the stop as a flag at every
        step.
        last_state keeps the last full state, which is therefore as of the
        last such step, not necessarily this one.

        Across ranks the stop is agreed (one host-side all-reduce per step,
        only when a budget is set), so every rank stops at the same step; a
        rank told to stop by another may have no figures at that step.
        """
        # The 90% warning comes at the step that crosses this share, so the
        # full state it brings is what turns on the syncs at every step.
        near_budget = (self.last_state or {}).get("budget_fraction", 0) >= _EXACT_BUDGET_FRACTION
        if near_budget or (self.sync_every and global_step % self.sync_every == 0):
            self.sync()
        handle = self._live_handle()
        if self._has_budget is False and not figures:
            now = time.monotonic()
            if now < self._next_hand_over:
                self._untold_step = global_step
                return {"global_step": global_step, "stop": False, "new_warnings": []}
            self._next_hand_over = now + _HAND_OVER_SECONDS
        self._untold_step = None
        self._hand_over(handle)
        if figures or self._has_budget is None:
            state = json.loads(_native.call("fm_meter_step", handle, global_step, returns_text=True))
            # The same on every rank (the same options), so all of them take part in the all-reduce.
            self._has_budget = state["budget_flop"] is not None
            self.last_state = state
        elif self._has_budget:
            state = self._step_budget(handle, global_step)
        else:  # no budget: no stop, no warnings
            error = ctypes.c_void_p()
            status = self._lib.fm_meter_step(handle, global_step, None, ctypes.byref(error))
            if status != 0:
                raise _native.failure("fm_meter_step", status, error)
            return {"global_step": global_step, "stop": False, "new_warnings": []}
        if self._has_budget and self._host_group.active:
            state["stop"] = self._host_group.any(state["stop"])
        if state["stop"]:
            self.stopped_by_budget = True
        return state

    def _step_budget(self, handle, global_step):
        """A step of a run with a budget: the full state (kept as last_state)
        when the step raised a warning or says stop, else just the flag."""
        stop = ctypes.c_int()
        news = ctypes.c_void_p()
        error = ctypes.c_void_p()
        status = self._lib.fm_meter_step_budget(handle, global_step, ctypes.byref(stop), ctypes.byref(news),
                                                ctypes.byref(error))
        if status != 0:
            raise _native.failure("fm_meter_step_budget", status, error)
        if not news:
            return {"global_step": global_step, "stop": bool(stop.value), "new_warnings": []}
        self.last_state = state = json.loads(_native.take_string(news))
        return state

    def _tell_step(self, handle):
        """Tells the library of the last step step() kept to itself."""
        if self._untold_step is not None:
            step, self._untold_step = self._untold_step, None
            _native.call("fm_meter_step", handle, step, None)

    def checkpoint(self, global_step, path):
        """A checkpoint of the weights was saved at `global_step` (journal line, fsync)."""
        self.sync()
        self._untold_step = None  # the checkpoint's line carries its step
        _native.call("fm_meter_checkpoint", self._live_handle(), global_step, os.fsencode(path))

    def flush(self):
        """Writes a progress line to the journal now (fsync)."""
        self.sync()
        handle = self._live_handle()
        self._tell_step(handle)
        _native.call("fm_meter_flush", handle)

    def end(self, status=None, global_step=None, world=None, notes=None):
        """Ends this process's segment and returns the record (dict); rank 0
        also writes flops_meter.json. Frees the meter.

        status: "completed" (default), "stopped_by_budget" (default once a
        step said stop), "failed" or "interrupted". world: the job's totals
        (see fm_meter_end); by default, when a process group has several ranks
        and the run ends normally, every rank sums its totals in two host-side
        all-reduces. A failed or interrupted end skips them, because the other
        ranks may still be training and would never join. notes: the
        caller's observations (strings), journaled and kept in the record's
        notes.
        """
        self.sync()
        if global_step is None:
            global_step = self._untold_step
        self._untold_step = None
        if status is None:
            status = "stopped_by_budget" if self.stopped_by_budget else "completed"
        totals = self._totals
        if world is None and self._host_group.active and status in ("completed", "stopped_by_budget"):
            world = self._host_group.sum_totals(totals.tokens, totals.positions, totals.micro_batches,
                                                totals.sequences)
        if world is not None:
            self.world_totals = {key: int(world[key]) for key in ("tokens", "positions", "micro_batches")
                                 if key in world}
        elif not self._host_group.active:
            self.world_totals = {"tokens": totals.tokens, "positions": totals.positions,
                                 "micro_batches": totals.micro_batches}
        end = {"status": status}
        if global_step is not None:
            end["global_step"] = global_step
        if world is not None:
            end["world"] = world
        if notes:
            end["notes"] = [str(note) for note in notes]
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
            raise _ended_error()
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

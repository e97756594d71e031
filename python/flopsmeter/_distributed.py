"""What the meter needs from torch.distributed, used only when it is initialised.

Every function here is collective: all ranks call it, in the same order, or
none does (the AWS meter skipped its all-reduce on ranks that saw no tokens
and so could hang the others). torch is imported only when a process group
exists, so the package works without torch.
"""

import sys


def _initialised_dist():
    """torch.distributed when a process group is initialised, else None."""
    torch = sys.modules.get("torch")  # a job with a process group has imported torch
    if torch is None:
        return None
    dist = torch.distributed
    if not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def rank_options():
    """{"rank", "world-size"} from the process group; {} without one (the
    library then reads RANK / WORLD_SIZE / LOCAL_RANK itself)."""
    dist = _initialised_dist()
    if dist is None:
        return {}
    return {"rank": dist.get_rank(), "world-size": dist.get_world_size()}


class HostGroup:
    """A process group whose collectives run on the host (gloo), so agreeing
    on a flag does not wait for the GPU's queued work. Creating it is
    collective."""

    def __init__(self):
        dist = _initialised_dist()
        self._dist = dist
        self._group = None
        if dist is not None and dist.get_world_size() > 1:
            self._group = dist.new_group(backend="gloo")

    @property
    def active(self):
        return self._group is not None

    def from_rank0(self, value):
        """Rank 0's `value` (a str or None), on every rank."""
        values = [value]
        self._dist.broadcast_object_list(values, src=0, group=self._group)
        return values[0]

    def any(self, flag):
        """True on every rank when `flag` is true on any rank."""
        import torch

        value = torch.tensor([1 if flag else 0], dtype=torch.int64)
        self._dist.all_reduce(value, op=self._dist.ReduceOp.MAX, group=self._group)
        return bool(value.item())

    def sum_totals(self, tokens, positions, micro_batches, sequences):
        """The job's totals over all ranks, as the "world" of fm_meter_end.

        Two collectives: the longest sequence (MAX), then one SUM over
        [tokens, positions, micro_batches, count of length 0..longest].
        """
        import torch

        dist = self._dist
        longest = torch.tensor([max(sequences, default=0)], dtype=torch.int64)
        dist.all_reduce(longest, op=dist.ReduceOp.MAX, group=self._group)
        totals = torch.zeros(3 + int(longest.item()) + 1, dtype=torch.int64)
        totals[0], totals[1], totals[2] = tokens, positions, micro_batches
        for length, count in sequences.items():
            totals[3 + length] = count
        dist.all_reduce(totals, op=dist.ReduceOp.SUM, group=self._group)
        values = totals.tolist()
        return {
            "tokens": str(values[0]),
            "positions": str(values[1]),
            "micro_batches": values[2],
            "sequences": [[length, count] for length, count in enumerate(values[3:]) if count],
        }

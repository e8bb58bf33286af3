"""Mini-batches for the training engine: seeded epochs over an array, or a stream of batches.

An array is shuffled once per epoch by a :class:`torch.Generator` seeded from the run's ``"data"`` stream and
the epoch number, and cut into consecutive batches (the last one of an epoch may be smaller). Batch ``k`` of a
run is therefore a pure function of ``(seed, k)``: resuming at any step, or sharding a global batch across
data-parallel ranks, draws exactly the batches an uninterrupted single-process run draws. The global torch
generator is never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from pgm_ppl.core import stream

__all__ = ["ArrayBatches", "DataExhausted", "StreamBatches", "make_batches", "num_rows", "row_shape", "split_rows",
           "take_rows"]

Batch = torch.Tensor | tuple[torch.Tensor, ...]


def num_rows(batch: Batch) -> int:
    """The rows of a batch: a tensor's first dimension, or that of a tuple's tensors (they all have it)."""
    return (batch[0] if isinstance(batch, tuple) else batch).shape[0]


def row_shape(batch: Batch) -> tuple[int, ...]:
    """The shape of one row of a batch's (first) tensor."""
    return tuple((batch[0] if isinstance(batch, tuple) else batch).shape[1:])


def take_rows(batch: Batch, index: torch.Tensor | slice) -> Batch:
    """Rows ``index`` of a tensor, or of every tensor of a tuple."""
    return tuple(part[index] for part in batch) if isinstance(batch, tuple) else batch[index]


def split_rows(batch: Batch, size: int) -> list[Batch]:
    """Consecutive chunks of ``size`` rows (as :func:`torch.split`), of a tensor or of every tensor of a tuple."""
    if isinstance(batch, tuple):
        return list(zip(*(torch.split(part, size) for part in batch)))
    return list(torch.split(batch, size))


class DataExhausted(Exception):
    """A one-shot iterator of batches ran out before ``num_steps``."""


class ArrayBatches:
    """Batch ``k`` of epochs of ``data`` (a tensor on the training device, or a tuple of tensors with the same rows,
    e.g. ``(x, y)`` for a conditional model), shuffled without replacement.

    Every batch has ``batch_size`` rows: the last, incomplete batch of an epoch is dropped (as
    ``torch.utils.data.DataLoader(drop_last=True)``), so a summed objective (Pyro's ELBOs sum over the plate) is on
    one scale at every step; the rows left out change with each epoch's shuffle.
    """

    def __init__(self, data: Batch, batch_size: int, seed: int):
        self.data = data
        self.rows = num_rows(data)
        self.batch_size = min(batch_size, self.rows)
        self.per_epoch = self.rows // self.batch_size
        self._seed = stream(seed, "data")
        self._epoch, self._order = -1, None

    def _permutation(self, epoch: int) -> torch.Tensor:
        epoch_seed = int(np.random.SeedSequence(self._seed, spawn_key=(epoch,)).generate_state(1)[0])
        generator = torch.Generator().manual_seed(epoch_seed)
        device = (self.data[0] if isinstance(self.data, tuple) else self.data).device
        return torch.randperm(self.rows, generator=generator).to(device)

    def get(self, k: int) -> Batch:
        """The ``k``-th global batch (0-based) of the run."""
        epoch, position = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, self._permutation(epoch)
        if self.batch_size == self.rows:
            return take_rows(self.data, self._order) if self.per_epoch > 1 else self.data
        return take_rows(self.data, self._order[position * self.batch_size:(position + 1) * self.batch_size])


class StreamBatches:
    """Batches from an iterable (re-iterated at each pass) or a one-shot iterator (ends the run when empty)."""

    def __init__(self, source: Iterable, convert: Any):
        self.source = source
        self.convert = convert
        self._one_shot = iter(source) is source
        self._iterator: Iterator | None = None
        self._next = 0
        self._last: torch.Tensor | None = None

    def get(self, k: int) -> torch.Tensor:
        """The ``k``-th batch; a resumed run fast-forwards the stream to it (deterministic streams only)."""
        if k == self._next - 1 and self._last is not None:
            return self._last
        if k < self._next:
            raise ValueError(f"data: a stream of batches cannot go back from batch {self._next} to batch {k}.")
        while True:
            batch = self._pull()
            self._next += 1
            if self._next > k:
                self._last = self.convert(batch, f"batch {k} of data")
                return self._last

    def _pull(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self.source)
        try:
            return next(self._iterator)
        except StopIteration:
            if self._one_shot:
                raise DataExhausted from None
            self._iterator = iter(self.source)
            try:
                return next(self._iterator)
            except StopIteration:
                raise ValueError("data: expected an iterable of batches, got an empty one.") from None


def make_batches(data: Any, batch_size: int, seed: int, convert: Any) -> ArrayBatches | StreamBatches:
    """:class:`ArrayBatches` for an array or tensor (or a tuple of them with equal rows), :class:`StreamBatches`
    for any other iterable."""
    if isinstance(data, tuple):
        return ArrayBatches(convert(data, "data"), batch_size, seed)
    if _is_list_of_rows(data):  # as np.asarray reads a list of equal-length lists
        data = np.stack([np.asarray(row.detach().cpu() if isinstance(row, torch.Tensor) else row) for row in data])
    if isinstance(data, (np.ndarray, torch.Tensor, list)) and not _is_list_of_batches(data):
        return ArrayBatches(convert(data, "data"), batch_size, seed)
    if isinstance(data, (dict, str, bytes)):
        hint = " (pass the array itself, e.g. data['x'])" if isinstance(data, dict) else ""
        raise TypeError(f"data: expected an array, a tensor or an iterable of batches, got a "
                        f"{type(data).__name__}{hint}.")
    if isinstance(data, Iterable):
        return StreamBatches(data, convert)
    raise TypeError(f"data: expected an array, a tensor or an iterable of batches, got {type(data).__name__}.")


def _is_list_of_batches(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and isinstance(data[0], (np.ndarray, torch.Tensor))


def _is_list_of_rows(data: Any) -> bool:
    """A list of equal-length 1-D arrays: the rows of one array (a list of 2-D arrays is a stream of batches)."""
    return (_is_list_of_batches(data) and all(isinstance(row, (np.ndarray, torch.Tensor)) and row.ndim == 1
                                              for row in data)
            and len({row.shape[0] for row in data}) == 1)


def shard(batch: Batch, rank: int, world_size: int) -> Batch:
    """Rank ``rank``'s contiguous slice of a global batch (sizes differ by at most one row)."""
    if world_size == 1:
        return batch
    if isinstance(batch, tuple):
        return tuple(torch.tensor_split(part, world_size)[rank] for part in batch)
    return torch.tensor_split(batch, world_size)[rank]

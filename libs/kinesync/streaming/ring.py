"""A ring buffer of multichannel samples addressed by absolute sample index."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

BLOCK_BYTES = 4 << 20  # ring memory is carved from blocks of this size (numpy asks for huge pages from 4 MB)
_ALIGN = 64  # each ring starts on a cache line


class _RingMemory:
    """Zeroed ring buffers carved one after another out of shared blocks, instead of an allocation each.

    A ring of a few hundred kB is otherwise a mapping of its own (glibc maps every allocation over 128 kB
    separately), so each station's samples sit in pages of their own; packed, the analyzer's writes into
    its rings and reads out of them run 2–4 % faster at 64–256 stations and 6 % at 512 (2026-12-05). A
    block lives as long as any ring carved from it (the rings are views of it), so its memory returns once
    all of them are gone; a ring over a quarter of a block gets an allocation of its own.
    """

    def __init__(self) -> None:
        self._block: np.ndarray | None = None
        self._used = 0
        self._lock = threading.Lock()  # rings may be made in more than one thread (tests, tools)

    def zeros(self, n_channels: int, capacity: int, dtype: type) -> np.ndarray:
        dt = np.dtype(dtype)
        nbytes = n_channels * capacity * dt.itemsize
        if nbytes > BLOCK_BYTES // 4:
            return np.zeros((n_channels, capacity), dtype=dt)
        with self._lock:
            block = self._block
            if block is None or self._used + nbytes > block.size:
                block = self._block = np.zeros(BLOCK_BYTES + _ALIGN, dtype=np.uint8)
                self._used = -block.ctypes.data % _ALIGN  # the allocator aligns to 16 bytes only
            start = self._used
            self._used = start + -(-nbytes // _ALIGN) * _ALIGN
        return block[start : start + nbytes].view(dt).reshape(n_channels, capacity)


_MEMORY = _RingMemory()


def start_new_block() -> None:
    """Carve the next rings from a new block: a memory measurement then counts every page of the rings
    made after it, none shared with rings made before (whose block goes once they are all gone)."""
    with _MEMORY._lock:
        _MEMORY._block = None


class SampleRing:
    """Keeps the newest ``capacity`` samples of ``n_channels`` channels.

    Sample ``i`` (absolute, counted from the stream's anchor) lives in column ``i % capacity``.
    """

    def __init__(self, n_channels: int, capacity: int, dtype: type = np.float64) -> None:
        self.capacity = capacity
        self._buf = _MEMORY.zeros(n_channels, capacity, dtype)
        self.start = 0  # oldest absolute index still held
        self.end = 0  # one past the newest absolute index

    def reset(self, index: int) -> None:
        self.start = self.end = index

    def append(self, block: np.ndarray) -> None:
        n = block.shape[1]
        cap = self.capacity
        if n >= cap:
            block = block[:, -cap:]
            self.end += n - cap
            self.start = self.end
            n = cap
        end = self.end
        pos = end % cap
        if pos + n <= cap:
            self._buf[:, pos : pos + n] = block  # the usual case: no wrap
        else:
            first = cap - pos
            self._buf[:, pos:] = block[:, :first]
            self._buf[:, : n - first] = block[:, first:]
        end += n
        self.end = end
        if end - cap > self.start:
            self.start = end - cap

    @staticmethod
    def append_each(rings: Sequence[SampleRing], blocks: np.ndarray) -> None:
        """``rings[i].append(blocks[i])`` for every ring (``blocks``: (rings, channels, n)), for less than
        the calls cost: a batched transform's outputs into their streams' rings."""
        if not rings:
            return
        n = blocks.shape[2]
        dtype = rings[0]._buf.dtype
        # One cast for all (float64 → a float32 ring) rounds each sample as each ring's slice assignment
        # would, and spares each assignment its own cast set-up, which costs more than the copy.
        same = blocks if blocks.dtype == dtype else blocks.astype(dtype)
        if len(same) != len(rings):
            raise ValueError(f"{len(rings)} rings for {len(same)} blocks")
        for i, ring in enumerate(rings):
            buf = ring._buf
            cap = ring.capacity
            end = ring.end
            pos = end % cap
            # append's usual case, inline; a ring of another dtype than the first's takes its block as given
            if pos + n <= cap and buf.dtype is dtype:
                buf[:, pos : pos + n] = same[i]
                end += n
                ring.end = end
                if end - cap > ring.start:
                    ring.start = end - cap
            else:
                ring.append(blocks[i])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) as a new (channels, stop-start) array; raises if not held."""
        if start < self.start or stop > self.end or stop < start:
            raise IndexError(f"samples {start}..{stop} not held (have {self.start}..{self.end})")
        a, b = start % self.capacity, stop % self.capacity
        if stop - start == 0:
            return self._buf[:, :0].copy()
        if a < b:
            return self._buf[:, a:b].copy()
        return np.concatenate((self._buf[:, a:], self._buf[:, :b]), axis=1)

    def view(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) without a copy when they do not wrap around the ring (else a copy).

        Only valid until the next ``append``: for reading within one computation, never for keeping.
        """
        if start < self.start or stop > self.end or stop < start:
            raise IndexError(f"samples {start}..{stop} not held (have {self.start}..{self.end})")
        a = start % self.capacity
        if a + (stop - start) <= self.capacity:
            view = self._buf[:, a : a + (stop - start)]
            view.flags.writeable = False
            return view
        return np.concatenate((self._buf[:, a:], self._buf[:, : stop % self.capacity]), axis=1)

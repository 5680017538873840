"""A ring buffer of multichannel samples addressed by absolute sample index."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

import numpy as np

CHUNK_BYTES = 32 << 20  # rings of one shape are slots of arrays of about this size (a larger ring: one slot)
_ALIGN = 64  # each ring starts on a cache line


class _RingStore:
    """Rings of one shape and dtype as the slots of shared 3-D arrays (slot, channel, column), one after
    another, instead of an allocation each.

    A ring of a few hundred kB is otherwise a mapping of its own (glibc maps every allocation over 128 kB
    separately), so each station's samples sit in pages of their own; packed, the analyzer's writes into
    its rings and reads out of them ran 2–4 % faster at 64–256 stations and 6 % at 512 (2026-12-05). As
    slots of one array, the rings of many stations take a batched transform's outputs in one assignment
    (``SampleRing.append_each``). A chunk lives as long as any ring in it (the rings are views of it), so its
    memory returns once all of them are gone; untouched slots cost address space, not memory.
    """

    def __init__(self, n_channels: int, capacity: int, dtype: np.dtype) -> None:
        self.shape = (n_channels, capacity)
        self.dtype = dtype
        self.stride = -(-n_channels * capacity * dtype.itemsize // _ALIGN) * _ALIGN
        self.slots = max(1, CHUNK_BYTES // self.stride)
        self.chunk: np.ndarray | None = None
        self.chunk_id = 0
        self.used = 0

    def take(self) -> tuple[np.ndarray, int, int]:
        """A free slot: (its chunk, the chunk's id, the slot). Called under the memory's lock."""
        if self.chunk is None or self.used == self.slots:
            raw = np.zeros(self.slots * self.stride + _ALIGN, dtype=np.uint8)
            c, cap = self.shape
            item = self.dtype.itemsize
            self.chunk = np.ndarray((self.slots, c, cap), self.dtype, raw, -raw.ctypes.data % _ALIGN,
                                    (self.stride, cap * item, item))
            self.chunk_id = next(_CHUNK_IDS)
            self.used = 0
        slot = self.used
        self.used += 1
        return self.chunk, self.chunk_id, slot


_CHUNK_IDS = itertools.count(1)


class _RingMemory:
    def __init__(self) -> None:
        self._stores: dict[tuple[int, int, str], _RingStore] = {}
        self._lock = threading.Lock()  # rings may be made in more than one thread (tests, tools)

    def take(self, n_channels: int, capacity: int, dtype: type) -> tuple[np.ndarray, int, int]:
        dt = np.dtype(dtype)
        with self._lock:
            store = self._stores.get((n_channels, capacity, dt.str))
            if store is None:
                store = self._stores[(n_channels, capacity, dt.str)] = _RingStore(n_channels, capacity, dt)
            return store.take()

    def start_new_chunks(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.chunk = None


_MEMORY = _RingMemory()


def start_new_block() -> None:
    """Carve the next rings from new chunks: a memory measurement then counts every page of the rings
    made after it, none shared with rings made before (whose chunks go once they are all gone)."""
    _MEMORY.start_new_chunks()


class SampleRing:
    """Keeps the newest ``capacity`` samples of ``n_channels`` channels.

    Sample ``i`` (absolute, counted from the stream's anchor) lives in column ``(i + shift) % capacity``;
    ``reset`` sets the shift. Streams that shift their rings by their first sample's number on a shared
    clock (``SensorStream``) write the same instant into the same column of their rings, so
    ``append_each`` fills the rings of all the stations that share a device layout in one assignment.
    """

    def __init__(self, n_channels: int, capacity: int, dtype: type = np.float64) -> None:
        self.capacity = capacity
        self._chunk, self._chunk_id, self._slot = _MEMORY.take(n_channels, capacity, dtype)
        self._buf = self._chunk[self._slot]
        self.start = 0  # oldest absolute index still held
        self.end = 0  # one past the newest absolute index
        self.shift = 0

    def reset(self, index: int, shift: int = 0) -> None:
        """Empty the ring; the next sample appended is sample ``index``, in column ``(index + shift) % capacity``."""
        self.start = self.end = index
        self.shift = shift % self.capacity

    def append(self, block: np.ndarray) -> None:
        n = block.shape[1]
        cap = self.capacity
        if n >= cap:
            block = block[:, -cap:]
            self.end += n - cap
            self.start = self.end
            n = cap
        end = self.end
        pos = (end + self.shift) % cap
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
        """``rings[i].append(blocks[i])`` for every ring (``blocks``: (rings, channels, n); the rings distinct,
        as a batch's streams are), for less than the calls cost: a batched transform's outputs into their
        streams' rings. The rings whose blocks go to the same columns of one chunk take them in one
        assignment (it rounds each sample to the ring's dtype as ``append`` does); a block that would wrap
        around its ring goes through ``append``."""
        if len(blocks) != len(rings):
            raise ValueError(f"{len(rings)} rings for {len(blocks)} blocks")
        n = blocks.shape[2]
        # (chunk id, column) -> (chunk, slots, indices into rings)
        groups: dict[tuple[int, int], tuple[np.ndarray, list[int], list[int]]] = {}
        for i, ring in enumerate(rings):
            cap = ring.capacity
            end = ring.end
            pos = (end + ring.shift) % cap
            if pos + n > cap:
                ring.append(blocks[i])
                continue
            group = groups.get((ring._chunk_id, pos))
            if group is None:
                groups[(ring._chunk_id, pos)] = (ring._chunk, [ring._slot], [i])
            else:
                group[1].append(ring._slot)
                group[2].append(i)
            end += n
            ring.end = end
            if end - cap > ring.start:
                ring.start = end - cap
        for (_, pos), (chunk, slots, idx) in groups.items():
            if len(slots) == 1:
                chunk[slots[0], :, pos : pos + n] = blocks[idx[0]]
            else:
                chunk[slots, :, pos : pos + n] = blocks if len(idx) == len(blocks) else blocks[idx]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) as a new (channels, stop-start) array; raises if not held."""
        if start < self.start or stop > self.end or stop < start:
            raise IndexError(f"samples {start}..{stop} not held (have {self.start}..{self.end})")
        if stop - start == 0:
            return self._buf[:, :0].copy()
        a, b = (start + self.shift) % self.capacity, (stop + self.shift) % self.capacity
        if a < b:
            return self._buf[:, a:b].copy()
        return np.concatenate((self._buf[:, a:], self._buf[:, :b]), axis=1)

    def view(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) without a copy when they do not wrap around the ring (else a copy).

        Only valid until the next ``append``: for reading within one computation, never for keeping.
        """
        if start < self.start or stop > self.end or stop < start:
            raise IndexError(f"samples {start}..{stop} not held (have {self.start}..{self.end})")
        a = (start + self.shift) % self.capacity
        if a + (stop - start) <= self.capacity:
            view = self._buf[:, a : a + (stop - start)]
            view.flags.writeable = False
            return view
        return np.concatenate((self._buf[:, a:], self._buf[:, : (stop + self.shift) % self.capacity]), axis=1)

"""KineSync frame format v1: the binary wire format for sensor samples.

Layout (all integers little-endian)::

    offset size  field
    0      2     magic b"KS"
    2      1     version (1)
    3      1     sensor kind (SensorKind)
    4      1     flags (bit 0: NaN allowed as gap marker)
    5      1     channel count C (1..255)
    6      4     sample count N per channel (uint32)
    10     8     sample rate in Hz (float64; exact rates such as 1925.926 Hz survive)
    18     8     facility-time timestamp of the first sample, ns since the Unix epoch (int64)
    26     8     sequence number per device (uint64)
    34     ...   four length-prefixed UTF-8 strings (uint16 length each):
                 station, device, channel names joined by ",", units joined by ","
                 (a single unit stands for every channel)
    ...    0-3   zero padding so the samples start on a 4-byte boundary
    ...    4*C*N samples, float32 little-endian, channel-major (channel 0's N samples first)

Channel-major order lets the decoder hand out one contiguous row per channel, and the
samples are a read-only numpy view on the received bytes (no copy).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field, fields, make_dataclass

import numpy as np

MAGIC = b"KS"
VERSION = 1
FLAG_NAN_ALLOWED = 0x01
_KNOWN_FLAGS = FLAG_NAN_ALLOWED

_HEAD = struct.Struct("<2sBBBBIdqQ")
_U16 = struct.Struct("<H")

MAX_CHANNELS = 255
MAX_SAMPLES = 1_000_000  # per channel in one frame: 10 s at 100 kHz
MAX_VALUES = 4_000_000  # channels × samples: a 16 MB frame at most
MIN_RATE_HZ = 0.01
MAX_RATE_HZ = 100_000.0
MAX_TEXT = 4096
_FLOAT32_LE = np.dtype("<f4")


class SensorKind(enum.IntEnum):
    """What a frame carries; decides the Kafka topic it travels on."""

    EMG = 1
    FORCE = 2
    VELOCITY = 3


class FrameError(ValueError):
    """A frame that cannot be encoded or decoded; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Frame:
    """A block of samples from one device: ``samples`` has shape (channels, samples).

    ``t0_ns`` is the facility-clock time of the first sample; sample ``i`` was taken at
    ``t0_ns + i * 1e9 / rate_hz``.
    """

    station: str
    device: str
    kind: SensorKind
    channels: tuple[str, ...]
    units: tuple[str, ...]
    rate_hz: float
    t0_ns: int
    seq: int
    samples: np.ndarray = field(repr=False)
    nan_allowed: bool = False

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_ns(self) -> int:
        return round(self.n_samples * 1e9 / self.rate_hz)

    @property
    def end_ns(self) -> int:
        """Facility time just after the last sample (t0 of a contiguous next frame)."""
        return self.t0_ns + self.duration_ns


def _text(value: str, what: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > MAX_TEXT:
        raise FrameError(f"{what} is {len(raw)} bytes; at most {MAX_TEXT}")
    return _U16.pack(len(raw)) + raw


def _rate_error(rate_hz: float) -> FrameError:
    return FrameError(f"sample rate {rate_hz!r} Hz is outside {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz")


def _check_rate(rate_hz: float) -> None:
    # The range test alone also refuses NaN and ±inf: every comparison with NaN is false.
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise _rate_error(rate_hz)


def encode(frame: Frame) -> bytes:
    """Serialise ``frame``; raises FrameError for anything ``decode`` would reject."""
    samples = np.asarray(frame.samples)
    if samples.ndim != 2:
        raise FrameError(f"samples must be 2-D (channels, samples), got shape {samples.shape}")
    n_ch, n = samples.shape
    if not 1 <= n_ch <= MAX_CHANNELS:
        raise FrameError(f"{n_ch} channels; a frame carries 1..{MAX_CHANNELS}")
    if len(frame.channels) != n_ch:
        raise FrameError(f"{len(frame.channels)} channel names for {n_ch} channels")
    units = frame.units
    if len(units) not in (1, n_ch):
        raise FrameError(f"{len(units)} units for {n_ch} channels; give one or one per channel")
    if any("," in c or not c for c in frame.channels) or any("," in u for u in units):
        raise FrameError("channel names must be non-empty and names and units must not contain ','")
    if not 1 <= n <= MAX_SAMPLES or n_ch * n > MAX_VALUES:
        raise FrameError(f"{n} samples × {n_ch} channels is outside the frame size limits")
    _check_rate(frame.rate_hz)
    if not frame.station:
        raise FrameError("station is empty")
    if not -(2**63) <= frame.t0_ns < 2**63 or not 0 <= frame.seq < 2**64:
        raise FrameError(f"t0_ns {frame.t0_ns} or seq {frame.seq} does not fit the header (int64, uint64)")
    data = np.ascontiguousarray(samples, dtype=_FLOAT32_LE)
    if not frame.nan_allowed and not np.isfinite(data).all():
        raise FrameError("samples contain NaN or Inf and the frame does not allow gap markers")
    if frame.nan_allowed and np.isinf(data).any():
        raise FrameError("samples contain Inf")
    if len(set(units)) == 1:
        units = units[:1]
    head = _HEAD.pack(
        MAGIC,
        VERSION,
        int(frame.kind),
        FLAG_NAN_ALLOWED if frame.nan_allowed else 0,
        n_ch,
        n,
        float(frame.rate_hz),
        int(frame.t0_ns),
        int(frame.seq),
    )
    meta = (
        _text(frame.station, "station")
        + _text(frame.device, "device")
        + _text(",".join(frame.channels), "channel names")
        + _text(",".join(units), "units")
    )
    pad = b"\x00" * (-(len(head) + len(meta)) % 4)
    return b"".join((head, meta, pad, data.tobytes()))


def _read_text(buf: memoryview, pos: int, what: str) -> tuple[str, int]:
    if pos + 2 > len(buf):
        raise FrameError(f"truncated before {what}")
    (length,) = _U16.unpack_from(buf, pos)
    pos += 2
    if length > MAX_TEXT:
        raise FrameError(f"{what} length {length} exceeds {MAX_TEXT}")
    if pos + length > len(buf):
        raise FrameError(f"truncated inside {what}")
    try:
        return bytes(buf[pos : pos + length]).decode("utf-8"), pos + length
    except UnicodeDecodeError as exc:
        raise FrameError(f"{what} is not valid UTF-8") from exc


_Meta = tuple[str, str, tuple[str, ...], tuple[str, ...], int]
_KINDS = {int(k): k for k in SensorKind}
_META_CACHE: dict[tuple[int, bytes], _Meta] = {}
_META_CACHE_MAX = 4096


def _read_meta(buf: bytes | memoryview, n_ch: int) -> _Meta:
    """Station, device, channel names, units and the offset of the samples, parsed and checked.

    A device repeats the same text block in every frame, so the block (same bytes, same channel
    count) is remembered: ``decode`` looks it up in the cache before it comes here.
    """
    start = end = _HEAD.size
    key = None
    if len(buf) >= start + 8:
        for _ in range(4):
            if end + 2 > len(buf):
                break
            end += 2 + _U16.unpack_from(buf, end)[0]
        else:
            end += -end % 4  # the padding before the samples belongs to the key
            if end <= len(buf):
                key = (n_ch, bytes(buf[start:end]))
    pos = start
    station, pos = _read_text(buf, pos, "station")
    device, pos = _read_text(buf, pos, "device")
    names_text, pos = _read_text(buf, pos, "channel names")
    units_text, pos = _read_text(buf, pos, "units")
    if not station:
        raise FrameError("station is empty")
    channels = tuple(names_text.split(","))
    if len(channels) != n_ch or not all(channels):
        raise FrameError(f"{len(channels)} channel names for {n_ch} channels")
    units = tuple(units_text.split(","))
    if len(units) == 1:
        units = units * n_ch
    elif len(units) != n_ch:
        raise FrameError(f"{len(units)} units for {n_ch} channels")
    pos += -pos % 4
    meta = (station, device, channels, units, pos)
    if key is not None:
        if len(_META_CACHE) >= _META_CACHE_MAX:
            _META_CACHE.clear()  # many devices come and go: start over rather than grow
        _META_CACHE[key] = meta
    return meta


# Frame is frozen so that nobody can change a decoded frame under the other consumers that share it. A frozen
# dataclass's __init__ sets every field through object.__setattr__, though (~0.6 µs, a fifth of a decode), so
# decode builds each frame as this twin (the same slots, a plain __init__) and then makes it a Frame: the object is
# what Frame(...) would give, frozen from then on. Derived from Frame's fields, so the two cannot drift apart; a
# layout that stopped matching would fail the __class__ assignment on the first decode.
_FrameTwin = make_dataclass("_FrameTwin", [(f.name, f.type) for f in fields(Frame)], slots=True, eq=False, repr=False)


def decode(data: bytes | bytearray | memoryview) -> Frame:
    """Parse one frame; the samples are a read-only view on ``data``.

    Every problem raises FrameError with a one-line reason; nothing else escapes.
    """
    # bytes (what the bus hands over) are read as they are: struct, slicing and frombuffer take them
    # directly, and numpy's view on immutable bytes is read-only already.
    plain = type(data) is bytes
    if plain:
        buf = data
    else:
        try:
            buf = memoryview(data).cast("B")
        except TypeError:  # not a buffer at all, or a strided view that cannot be read as plain bytes
            raise FrameError(f"a frame must be a contiguous bytes-like object, not {type(data).__name__}") from None
    size = len(buf)
    if size < _HEAD.size:
        raise FrameError(f"truncated header: {size} bytes, need at least {_HEAD.size}")
    magic, version, kind_raw, flags, n_ch, n, rate, t0_ns, seq = _HEAD.unpack_from(buf, 0)
    if magic != MAGIC:
        raise FrameError(f"wrong magic {bytes(magic)!r}; expected {MAGIC!r}")
    if version != VERSION:
        raise FrameError(f"unsupported frame version {version}; this build reads version {VERSION}")
    kind = _KINDS.get(kind_raw)
    if kind is None:
        raise FrameError(f"unknown sensor kind {kind_raw}")
    if flags & ~_KNOWN_FLAGS:
        raise FrameError(f"unknown flag bits 0x{flags & ~_KNOWN_FLAGS:02x}")
    if n_ch < 1:
        raise FrameError("frame declares 0 channels")
    count = n_ch * n
    if n < 1 or n > MAX_SAMPLES or count > MAX_VALUES:
        raise FrameError(f"absurd size: {n} samples × {n_ch} channels")
    # _check_rate inline (its range test), spared the call on every frame.
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise _rate_error(rate)
    # A well-formed frame ends with its samples, so the text block and its padding are the bytes between the
    # header and len − 4·C·N: one slice is the cache key, without walking the four length prefixes. Identical
    # bytes parse identically, so a hit is the same answer as a parse.
    pos = size - 4 * count
    meta = None
    if pos >= _HEAD.size:
        meta = _META_CACHE.get((n_ch, buf[_HEAD.size : pos] if plain else bytes(buf[_HEAD.size : pos])))
    if meta is None:
        meta = _read_meta(buf, n_ch)
    station, device, channels, units, pos = meta
    expected = pos + 4 * count
    if size != expected:
        what = "truncated" if size < expected else "trailing bytes"
        raise FrameError(f"{what}: frame is {size} bytes, header promises {expected}")
    # The (channels, samples) view built at once (the size check above keeps it inside the buffer), with
    # positional arguments: frombuffer and then reshape build two views, and keyword parsing costs more than either.
    samples = np.ndarray((n_ch, n), _FLOAT32_LE, buf, pos)
    if not plain:
        samples.flags.writeable = False  # a bytearray would give a writable view; consumers share these samples
    nan_allowed = (flags & FLAG_NAN_ALLOWED) != 0
    # NaN and Inf have every exponent bit set, so the top byte of such a little-endian float32 (the sign and the
    # exponent's upper seven bits) is 0x7F or 0xFF; every fourth byte from the samples' offset 3 is such a top byte.
    # When neither value occurs, every sample is finite; otherwise (NaN, Inf, or a finite |x| ≥ 2**127) the exact
    # test decides. One strided byte slice is a fraction of a float64 sum, and byte work does no floating-point
    # arithmetic, so it cannot raise a numpy warning (the sum warned on +Inf and −Inf in one frame).
    top = buf[pos + 3 :: 4] if plain else bytes(buf[pos:])[3::4]
    if (0x7F in top or 0xFF in top) and not np.isfinite(samples).all():
        if not nan_allowed:
            raise FrameError("samples contain NaN or Inf and the frame does not allow gap markers")
        if np.isinf(samples).any():
            raise FrameError("samples contain Inf")
    frame = _FrameTwin(station, device, kind, channels, units, rate, t0_ns, seq, samples, nan_allowed)
    frame.__class__ = Frame
    return frame


def overhead(frame: Frame) -> float:
    """Share of the encoded frame that is not sample payload (0..1)."""
    payload = 4 * frame.samples.size
    return 1.0 - payload / len(encode(frame))

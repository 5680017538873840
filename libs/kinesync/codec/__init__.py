"""The binary frame codec (wire format v1) and the JSON codec for result records."""

from kinesync.codec.frame import Frame, FrameError, SensorKind, decode, encode, overhead

__all__ = ["Frame", "FrameError", "SensorKind", "decode", "encode", "overhead"]

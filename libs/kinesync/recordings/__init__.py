"""Recorded sessions read from files, replayed as frames through the live analysis code."""

from kinesync.recordings.model import Recording, Track, to_frames
from kinesync.recordings.readers import load_mapping, read_c3d, read_csv_pair

__all__ = ["Recording", "Track", "load_mapping", "read_c3d", "read_csv_pair", "to_frames"]

"""Which channel plays which role in the analysis (leg drive, chest, vertical force)."""

from __future__ import annotations

import re

# Muscle names, matched by whole words of the channel name (split at spaces, "_", "-", "."), never by
# substring: "rect" alone would also match rectus abdominis and "erector". A word matches a prefix
# when it starts with it ("pect", "pectoralis", "gluteus").
EMG_ROLES: dict[str, tuple[str, ...]] = {
    "quad": ("quad", "vast", "rf", "vl", "vm"),  # plus rectus femoris, below
    "glute": ("glut", "gmax"),
    "pec": ("pec",),
}
# Prefixes that are only a prefix when the word is at least this long: "rf", "vl", "vm" must be whole.
_WHOLE_WORDS = frozenset({"rf", "vl", "vm", "gmax"})
LEG_ROLES = ("quad", "glute")
# Words after "rect"/"rectus" that name another muscle than rectus femoris.
_NOT_FEMORIS = ("abd", "capitis", "lat", "med", "sup", "inf")


def _words(channel: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", channel.lower()) if w]


def emg_role(channel: str) -> str | None:
    """The analysis role of an EMG channel by its muscle name, None for any other muscle.

    Rectus femoris: "Rect Fem", "Rectus Femoris", "RF", or "Rect" with no other muscle word after it
    (the "L Rect"/"R Rect" labels of common gait recordings); "Rectus Abdominis", "Rect Abd" and
    "Erector Spinae" get no role.
    """
    words = _words(channel)
    for i, w in enumerate(words):
        if w in ("rect", "rectus"):
            rest = words[i + 1 : i + 2]
            if not rest or rest[0].startswith("fem") or not rest[0].isalpha() or len(rest[0]) == 1:
                return "quad"
            if rest[0].startswith(_NOT_FEMORIS):
                return None
    for role, names in EMG_ROLES.items():
        for w in words:
            if any(w == n if n in _WHOLE_WORDS else w.startswith(n) for n in names):
                return role
    return None


def emg_role_rows(channels: tuple[str, ...]) -> dict[str, list[int]]:
    """Row indices per role; a role may have several channels (their envelopes are averaged)."""
    rows: dict[str, list[int]] = {}
    for i, ch in enumerate(channels):
        role = emg_role(ch)
        if role is not None:
            rows.setdefault(role, []).append(i)
    return rows


def force_rows(channels: tuple[str, ...]) -> tuple[list[int], list[int], list[int]]:
    """Rows summed into vertical force in total, on the left plate and on the right plate.

    Vertical channels are named ``fz`` or start with ``fz_`` (``fz_left``, ``fz_right_3``, ...).
    """
    vertical = [i for i, c in enumerate(channels) if c.lower() == "fz" or c.lower().startswith("fz_")]
    left = [i for i in vertical if "left" in channels[i].lower()]
    right = [i for i in vertical if "right" in channels[i].lower()]
    return vertical, left, right


def bar_rows(channels: tuple[str, ...]) -> dict[str, int]:
    """Row of the bar's vertical position and of its vertical acceleration, when present.

    A bar sensor (kind ``velocity``) names its channels ``bar_z`` (vertical position, m, up positive:
    a linear position transducer) and ``bar_az`` (vertical acceleration, m/s², +g at rest: a bar IMU).
    The first channel of each name counts; other channels (``bar_x``, ...) are ignored.
    """
    rows: dict[str, int] = {}
    for i, ch in enumerate(channels):
        role = {"bar_z": "position", "bar_az": "acceleration"}.get(ch.lower())
        if role is not None:
            rows.setdefault(role, i)
    return rows

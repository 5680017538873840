"""Which channel plays which role in the analysis (leg drive, chest, vertical force)."""

from __future__ import annotations

# Lower-case name fragments; the first match wins. Names follow common EMG labels
# (e.g. "R Rect" for rectus femoris, "VL" for vastus lateralis).
EMG_ROLES: dict[str, tuple[str, ...]] = {
    "quad": ("quad", "rect", "vast", "rf", "vl", "vm"),
    "glute": ("glut", "gmax"),
    "pec": ("pec",),
}
LEG_ROLES = ("quad", "glute")


def emg_role(channel: str) -> str | None:
    name = channel.lower()
    for role, fragments in EMG_ROLES.items():
        if any(f in name for f in fragments):
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

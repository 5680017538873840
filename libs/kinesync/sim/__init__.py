"""Simulated athletes with exact ground truth (EMG carriers in ``emg``, athletes in ``athlete``)."""

from kinesync.sim.athlete import AthleteSpec, RepTruth, SimAthlete
from kinesync.sim.emg import emg_carrier

__all__ = ["AthleteSpec", "RepTruth", "SimAthlete", "emg_carrier"]

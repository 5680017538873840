"""Simulated athletes with exact ground truth (EMG carriers in ``emg``, athletes in ``athlete``,
force curves of the exercises in ``exercise``)."""

from kinesync.sim.athlete import AthleteSpec, RepTruth, SimAthlete
from kinesync.sim.emg import emg_carrier
from kinesync.sim.exercise import EXERCISES

__all__ = ["EXERCISES", "AthleteSpec", "RepTruth", "SimAthlete", "emg_carrier"]

"""Property-based fuzzing of the analysis: valid frames with hostile content never make it raise.

The decoder has its own fuzzing (test_codec_fuzz.py); here every frame decodes cleanly and the
hostility is in what it carries (tests/hostile_frames.py). Whatever the mix, no exception escapes
``AnalyzerEngine.handle_batch``, ``tick`` or ``finish``, and every record that comes out validates
against its model with finite numbers. The number of batches is counted: CI runs at least 20 000.
"""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinesync.codec.frame import SensorKind
from kinesync.models import DeadLetter, RepMetric, WindowMetric
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig
from tests.hostile_frames import (
    BAR_CONTENT,
    BAR_NAMES,
    BAR_RATES,
    EMG_CONTENT,
    EMG_NAMES,
    EMG_RATES,
    FORCE_CONTENT,
    FORCE_NAMES,
    FORCE_RATES,
    NS,
    T0_NS,
    UNITS,
    DeviceSpec,
    Scenario,
    scenario_messages,
)

# Examples per run; each example is several batches. KINESYNC_FUZZ_EXAMPLES raises it for long runs by hand.
EXAMPLES = int(os.environ.get("KINESYNC_FUZZ_EXAMPLES", "400"))
MIN_BATCHES = int(os.environ.get("KINESYNC_FUZZ_MIN_BATCHES", "20000"))


BASE_LAYOUTS = {
    SensorKind.EMG: (("R Rect", "Pec Maj"), ("VL", "glut_max", "pec", "L Rect"), ("Rectus Abdominis", "Pec"), ()),
    SensorKind.FORCE: (("fz_left", "fz_right"), ("fz",), ()),
    SensorKind.VELOCITY: (("bar_z",), ("bar_az",), ()),
}


@st.composite
def device(draw: st.DrawFn, kind: SensorKind) -> DeviceSpec:
    rates, names, contents = {
        SensorKind.EMG: (EMG_RATES, EMG_NAMES, EMG_CONTENT),
        SensorKind.FORCE: (FORCE_RATES, FORCE_NAMES, FORCE_CONTENT),
        SensorKind.VELOCITY: (BAR_RATES, BAR_NAMES, BAR_CONTENT),
    }[kind]
    # Usually a working layout (both roles, a dual plate) with odd channels added; sometimes only odd ones.
    base = draw(st.sampled_from(BASE_LAYOUTS[kind]))
    extra = tuple(draw(st.lists(st.sampled_from(names), min_size=0 if base else 1, max_size=4)))
    channels = base + extra
    n_ch = len(channels)
    # Most channels carry the usual signal, so the odd one sits among working ones.
    usual = contents[0]
    chosen = tuple(draw(st.lists(st.sampled_from((*(usual,) * 8, *contents)), min_size=n_ch, max_size=n_ch)))
    return DeviceSpec(
        kind=kind, rate_hz=draw(st.sampled_from(rates)), channels=channels, contents=chosen,
        unit=draw(st.sampled_from(UNITS)), frame_samples=draw(st.sampled_from((1, 7, 25, 50, 100, 250, 1000))),
        change_at=draw(st.one_of(st.none(), st.sampled_from((0.3, 0.6)))),
    )


@st.composite
def station(draw: st.DrawFn) -> tuple[DeviceSpec, ...]:
    kinds = draw(st.sampled_from((
        (SensorKind.EMG, SensorKind.FORCE), (SensorKind.EMG, SensorKind.FORCE), (SensorKind.EMG,),
        (SensorKind.FORCE,), (SensorKind.EMG, SensorKind.FORCE, SensorKind.VELOCITY),
        (SensorKind.EMG, SensorKind.EMG, SensorKind.FORCE),
    )))
    return tuple(draw(device(k)) for k in kinds)


scenarios = st.builds(
    Scenario,
    seed=st.integers(0, 2**32 - 1),
    stations=st.lists(station(), min_size=1, max_size=3).map(tuple),
    duration_s=st.sampled_from((0.5, 2.6, 4.0, 6.0, 8.0)),
    disorder=st.sampled_from(("none", "none", "shuffle", "repeat", "skip", "backwards")),
    batch_size=st.sampled_from((1, 3, 8, 40, 500)),
)


def _finite(record: WindowMetric | RepMetric) -> list[str]:
    bad = []
    for name, value in record.model_dump().items():
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(name)
        if isinstance(value, dict):
            bad.extend(f"{name}.{k}" for k, v in value.items() if any(not math.isfinite(x) for x in v))
    return bad


def _check(records: list, model: type) -> None:
    for r in records:
        again = model.model_validate_json(r.model_dump_json())
        assert again.model_dump() == r.model_dump() or isinstance(r, RepMetric), r
        bad = _finite(r) if model is not DeadLetter else []
        assert not bad, f"non-finite {bad} in {r}"


def run_scenario(sc: Scenario) -> int:
    """Feed the scenario through a fresh engine; returns the number of batches."""
    engine = AnalyzerEngine(AnalysisConfig(max_wait_s=0.5))
    now = T0_NS
    batches = 0
    faults: list[DeadLetter] = []
    for batch in scenario_messages(sc):
        now += NS // 20
        out = engine.handle_batch(batch, now)
        batches += 1
        _check(out.metrics, WindowMetric)
        _check(out.dead_letters, DeadLetter)
        _check(engine.take_reps(), RepMetric)
        _check(engine.tick(now + NS), WindowMetric)
        faults += engine.take_faults()
    _check(engine.finish(now + 10 * NS), WindowMetric)
    _check(engine.take_reps(), RepMetric)
    faults += engine.take_faults()
    _check(faults, DeadLetter)
    # Valid frames with odd content are analysed, flagged or ignored; none is a dead letter. The station
    # guard would catch an exception, but odd content must never need it: it is for bugs, not data.
    assert engine.counters.dead_letters == 0
    assert not faults, f"the analysis raised on valid frames: {[f.reason for f in faults]}"
    return batches


def test_hostile_content_never_escapes_the_analysis() -> None:
    count = {"batches": 0, "examples": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("CI") == "true",
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(sc=scenarios)
    def check(sc: Scenario) -> None:
        count["batches"] += run_scenario(sc)
        count["examples"] += 1

    check()
    print(f"\nanalysis fuzz: {count['examples']} scenarios, {count['batches']} batches, no escape")
    assert count["batches"] >= MIN_BATCHES, f"only {count['batches']} batches; raise KINESYNC_FUZZ_EXAMPLES"

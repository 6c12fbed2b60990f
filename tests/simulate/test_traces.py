"""Arrival traces and duration distributions, including the errors people make."""

import numpy as np
import pytest

from edgecloud.controller.simulate.traces import SpecError, load_trace, sample


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_burst_is_n_clips_at_once(rng):
    assert load_trace("burst:40", rng).tolist() == [0.0] * 40


def test_poisson_has_about_rate_times_duration_sorted_clips(rng):
    times = load_trace("poisson:2:1000", rng)
    assert 1800 < times.size < 2200
    assert (np.diff(times) >= 0).all() and times.min() >= 0 and times.max() <= 1000


def test_diurnal_is_quiet_at_night_and_busy_at_midday(rng):
    times = load_trace("diurnal:1:24", rng)
    night = np.sum(times < 3600)
    noon = np.sum((times >= 11.5 * 3600) & (times < 12.5 * 3600))
    assert noon > 10 * night
    assert 0.4 * 86400 < times.size < 0.6 * 86400  # the mean of the shape is half the peak
    assert (np.diff(times) >= 0).all()


def test_csv_trace_with_header_is_sorted(tmp_path, rng):
    path = tmp_path / "trace.csv"
    path.write_text("submitted_s\n5.5\n1\n\n3\n")
    assert load_trace(str(path), rng).tolist() == [1.0, 3.0, 5.5]


@pytest.mark.parametrize(
    "content,message",
    [
        ("t\n1\nsoon\n", "line 3|:3:"),
        ("1\n-2\n", ">= 0"),
        ("", "no submit times"),
        ("header only\n", "no submit times"),
    ],
)
def test_bad_csv_traces_say_what_is_wrong(tmp_path, rng, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SpecError, match=message):
        load_trace(str(path), rng)


@pytest.mark.parametrize(
    "spec",
    [
        "burst",
        "burst:0",
        "burst:2.5",
        "burst:x",
        "poisson:1",
        "poisson:-1:10",
        "poisson:1:0",
        "diurnal:1",
        "diurnal:0:24",
        "poisson:nan:5",
        "nosuch.csv",
        "zipf:1:2",
    ],
)
def test_bad_trace_specs_are_refused(rng, spec):
    with pytest.raises(SpecError):
        load_trace(spec, rng)


def test_distributions(rng):
    assert sample("60", 3, rng).tolist() == [60.0] * 3
    uniform = sample("uniform:2:4", 10_000, rng)
    assert uniform.min() >= 2 and uniform.max() <= 4
    assert sample("normal:3:1", 100_000, rng).mean() == pytest.approx(3, abs=0.05)
    assert sample("normal:0.1:5", 1000, rng).min() >= 0  # never a negative duration
    assert sample("lognormal:3:0.5", 200_000, rng).mean() == pytest.approx(3, rel=0.02)
    assert sample("exp:2", 200_000, rng).mean() == pytest.approx(2, rel=0.02)


@pytest.mark.parametrize("spec", ["-1", "abc", "normal:3", "uniform:4:2", "lognormal:0:1", "gamma:1:2", "exp:0"])
def test_bad_distributions_are_refused(rng, spec):
    with pytest.raises(SpecError):
        sample(spec, 1, rng)

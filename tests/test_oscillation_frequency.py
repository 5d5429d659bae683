"""Oscillation frequency: peak of the population-rate power spectrum (Welch), alone and in the statistical tier."""

from __future__ import annotations

import numpy as np
import pytest

from snnval.compare import population_statistics
from snnval.contract import RunResult
from snnval.errors import SpecError
from snnval.spiketrain_metrics import oscillation_frequency

pytestmark = pytest.mark.quick

#: Welch segments of 100 ms zero-padded to 1024 bins of 1 ms: the peak lies on a ~1 Hz grid, and a
#: sinusoidal rate modulation of a Poisson population is found within 2 Hz in 150-200 ms
TOL_HZ = 2.0


def _modulated_counts(f_Hz: float, n_bins: int, seed: int, n_trials: int = 1) -> np.ndarray:
    t_s = np.arange(n_bins) / 1000.0
    rate = 5.0 * (1.0 + 0.8 * np.sin(2 * np.pi * f_Hz * t_s))  # spikes per 1 ms bin, population total
    return np.random.default_rng(seed).poisson(rate, size=(n_trials, n_bins))


# frequencies with at least 2.5 cycles per 100 ms segment; below that (e.g. 12 Hz: 1.2 cycles) the
# Hann-windowed segment cannot place the peak within 2 Hz (measured 9.8 Hz for 12 Hz)
@pytest.mark.parametrize("f_Hz", [25.0, 40.0, 63.0, 110.0])
def test_recovers_the_modulation_frequency(f_Hz):
    for seed in range(3):
        assert abs(oscillation_frequency(_modulated_counts(f_Hz, 200, seed)[0], 1.0) - f_Hz) <= TOL_HZ


def test_trials_are_averaged_and_band_limits_apply():
    counts = _modulated_counts(40.0, 150, 7, n_trials=4)
    assert abs(oscillation_frequency(counts, 1.0) - 40.0) <= TOL_HZ
    # searching above the rhythm finds something else
    assert oscillation_frequency(counts, 1.0, f_min_Hz=60.0) >= 60.0


def test_silent_population_has_no_frequency_and_bad_input_is_named():
    assert np.isnan(oscillation_frequency(np.zeros(200), 1.0))
    assert np.isnan(oscillation_frequency(np.full(200, 3.0), 1.0))
    with pytest.raises(SpecError, match="f_min_Hz"):
        oscillation_frequency(np.ones(200), 1.0, f_max_Hz=800.0)  # above Nyquist (500 Hz)
    with pytest.raises(SpecError, match="at least 4 bins"):
        oscillation_frequency(np.ones(3), 1.0)


def test_population_statistics_reports_one_frequency_per_trial():
    dt, n_steps, n_neurons = 0.1, 2000, 50
    counts = _modulated_counts(45.0, 200, 3, n_trials=2)  # per 1 ms bin
    rng = np.random.default_rng(4)
    trial, step, neuron = [], [], []
    for tr in range(2):
        for b, c in enumerate(counts[tr]):  # place each bin's spikes on distinct steps of that bin
            k = min(int(c), 10)
            step += list(b * 10 + rng.choice(10, k, replace=False))
            neuron += list(rng.integers(0, n_neurons, k))
            trial += [tr] * k
    res = RunResult.from_spikes(dt, n_steps, 2, trial, step, neuron, np.zeros(0), {}, {})
    stats = population_statistics(res, {"all": np.arange(n_neurons)})["all"]
    assert stats.osc_Hz.shape == (2,)
    assert np.all(np.abs(stats.osc_Hz - 45.0) <= TOL_HZ), stats.osc_Hz
    assert stats.to_dict()["osc_Hz"]["n"] == 2

"""LGN-like input from digit images, on the TF training code's stimulus timeline.

Timeline (TF Billeh MNIST task, GLIF3_SEMANTICS.md section 2): 50 ms blank, 100 ms image, then blank;
the readout counts spikes in [150, 200) ms, i.e. in the 50 ms after image offset. Nothing after 200 ms
can change a prediction (the dynamics are causal), so :class:`Timeline` stops at 200 ms by default
instead of the TF code's 600 ms; ``duration_ms=600`` gives the full trial (blank after the image tail).

Encoding. Every pixel drives one ON and one OFF unit (2 x n_pixels LGN units, ON first, then OFF, both
in row-major pixel order). The luminance time course of a pixel of intensity ``I`` in [0, 1] is
``I * box(t)`` (blank = 0 = black, the digits' background). It passes through one causal biphasic
temporal filter ``h`` shared by all units, ``h = f_fast - w_slow * f_slow`` with unit-sum exponential lobes
(tau 10 ms and 50 ms, truncated at 150 ms), scaled so the response to the image peaks at 1:

    L(t)        = I * g(t),   g = (h * box), max g = 1
    rate_ON(t)  = peak_rate * I * max(g(t), 0)
    rate_OFF(t) = peak_rate * I * max(-g(t), 0)

Why: real LGN relay cells are partly transient (band-pass in time); an ON cell fires at light onset and
an OFF cell at light offset. The biphasic filter gives an ON transient at image onset that settles to a
sustained level (46 % of the peak), and an OFF rebound after image offset that decays with the slow
lobe (43 % of the ON peak at 160 ms, 60 % at 170-180 ms, 43 % at 200 ms). So the image is still
represented in the input during the readout window [150, 200) ms; without such a tail the network
would have to hold the digit for 50 ms in recurrent activity alone. There is no
spontaneous LGN rate: ongoing activity comes from the background source, so every LGN event lies in
steps [onset, offset + kernel - 1) (here 50 .. 298 ms) and the timeline is testable exactly.

Input amplitudes follow the TF default (``current_input=True``): p = 1 - exp(-rate dt / 1000) per step and
a deterministic amplitude 1.3 p (:func:`snnval.stimulus.rate_to_probability`,
:func:`snnval.stimulus.deterministic_input`). Background: TF common-source mode, one source ``bkg``
emitting a Binomial(10, 0.1) count per 1 ms step (:func:`snnval.stimulus.common_background_counts`),
frozen from the stimulus seed; the network connects it to every neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnval.errors import SpecError
from snnval.stimulus import (
    Events,
    FrozenStimulus,
    common_background_counts,
    deterministic_input,
    rate_to_probability,
)


@dataclass(frozen=True)
class Timeline:
    """Trial timeline in ms on a grid of ``dt_ms``: blank, image, blank up to ``duration_ms``."""

    blank_ms: float = 50.0
    image_ms: float = 100.0
    duration_ms: float = 200.0
    dt_ms: float = 1.0

    def _steps(self, ms: float) -> int:
        return int(round(ms / self.dt_ms))

    @property
    def onset_step(self) -> int:
        """First step of the image."""
        return self._steps(self.blank_ms)

    @property
    def offset_step(self) -> int:
        """First blank step after the image."""
        return self._steps(self.blank_ms + self.image_ms)

    @property
    def n_steps(self) -> int:
        return self._steps(self.duration_ms)

    def validated(self) -> Timeline:
        if not (self.dt_ms > 0 and self.blank_ms >= 0 and self.image_ms > 0):
            raise SpecError("Timeline", "dt_ms/blank_ms/image_ms", "dt > 0, blank >= 0, image > 0 ms")
        if self.n_steps < self.offset_step:
            raise SpecError("Timeline", "duration_ms", f">= blank + image = {self.blank_ms + self.image_ms} ms")
        return self


@dataclass(frozen=True)
class LGNParams:
    """Temporal filter and gain of the LGN units (ms, Hz)."""

    peak_rate_Hz: float = 150.0  # rate of a full-intensity pixel's ON unit at the onset peak
    tau_fast_ms: float = 10.0  # positive (centre) lobe
    tau_slow_ms: float = 50.0  # negative lobe: sets how long the OFF rebound lasts after offset
    slow_weight: float = 0.8  # area of the negative lobe relative to the positive one (sustained = 1 - w)
    kernel_ms: float = 150.0  # filter support: no LGN event later than offset + kernel_ms

    def validated(self) -> LGNParams:
        if not (self.peak_rate_Hz >= 0 and self.tau_fast_ms > 0 and self.tau_slow_ms > 0 and self.kernel_ms > 0):
            raise SpecError("LGNParams", "rates/time constants", "peak rate >= 0 Hz, time constants > 0 ms")
        if not 0 <= self.slow_weight < 1:
            raise SpecError("LGNParams", "slow_weight", f"a value in [0, 1), got {self.slow_weight}")
        return self


def temporal_kernel(params: LGNParams, dt_ms: float) -> np.ndarray:
    """The biphasic impulse response ``h[k]`` (k = 0 .. kernel steps - 1), sum 1 - slow_weight (unitless)."""
    params = params.validated()
    k = np.arange(int(round(params.kernel_ms / dt_ms))) * dt_ms
    fast = np.exp(-k / params.tau_fast_ms)
    slow = np.exp(-k / params.tau_slow_ms)
    return fast / fast.sum() - params.slow_weight * slow / slow.sum()


def temporal_response(params: LGNParams = LGNParams(), timeline: Timeline = Timeline()) -> np.ndarray:
    """``g(t)`` per step (unitless): the filtered image-on box, scaled so its maximum is 1.

    Computed over the whole response (onset to offset + kernel) before cutting at ``timeline.n_steps``,
    so the scale does not depend on the duration. Exactly 0 before onset and from step offset + kernel - 1 on.
    """
    timeline = timeline.validated()
    h = temporal_kernel(params, timeline.dt_ms)
    on, off = timeline.onset_step, timeline.offset_step
    box = np.ones(off - on)
    resp = np.convolve(box, h)  # response from the onset step on; length (off - on) + len(h) - 1
    resp /= resp.max()
    g = np.zeros(max(timeline.n_steps, on + resp.size))
    g[on : on + resp.size] = resp
    return g[: timeline.n_steps]


def lgn_rates(images: np.ndarray, params: LGNParams = LGNParams(), timeline: Timeline = Timeline()) -> np.ndarray:
    """LGN firing rates (Hz), shape (n_images, n_steps, 2 * n_pixels): ON units, then OFF units.

    ``images``: (n, height, width) or (n, n_pixels) intensities in [0, 1].
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim < 2:
        raise SpecError("lgn_rates", "images", f"an (n, height, width) or (n, pixels) array, got {imgs.shape}")
    imgs = imgs.reshape(imgs.shape[0], -1)
    if imgs.size and (imgs.min() < 0 or imgs.max() > 1 or not np.all(np.isfinite(imgs))):
        raise SpecError("lgn_rates", "images", "intensities in [0, 1]")
    g = temporal_response(params, timeline)
    on = np.maximum(g, 0.0)[None, :, None] * imgs[:, None, :]
    off = np.maximum(-g, 0.0)[None, :, None] * imgs[:, None, :]
    return params.peak_rate_Hz * np.concatenate([on, off], axis=2)


def lgn_amplitudes(rates_Hz: np.ndarray, dt_ms: float) -> np.ndarray:
    """The TF default deterministic input per step: 1.3 * (1 - exp(-rate dt)), same shape as the rates."""
    return deterministic_input(rate_to_probability(rates_Hz, dt_ms))


def background_counts(n_trials: int, n_steps: int, rng: np.random.Generator, dt_ms: float = 1.0) -> np.ndarray:
    """Counts of the common ``bkg`` source, (n_trials, n_steps, 1): Binomial(10, 0.1) per 1 ms step.

    At dt < 1 ms the same ~1 kHz source is thinned (p = 0.1 dt) so the mean drive per ms is unchanged.
    """
    if dt_ms < 1.0:
        return common_background_counts(n_trials, n_steps, rng, n=10, p=0.1 * dt_ms)
    return common_background_counts(n_trials, n_steps, rng)


def lgn_dense_input(
    images: np.ndarray,
    seed: int | None,
    params: LGNParams = LGNParams(),
    timeline: Timeline = Timeline(),
    background: bool = True,
    dtype: type = np.float64,
) -> np.ndarray:
    """Source amplitudes (n_images, n_steps, 2 * n_pixels [+ 1]): LGN units then, if ``background``, ``bkg``.

    The background counts are drawn from ``np.random.default_rng(seed)`` for all trials at once, so the
    result is a pure function of (images, seed, params, timeline).
    """
    x = lgn_amplitudes(lgn_rates(images, params, timeline), timeline.dt_ms).astype(dtype)
    if not background:
        return x
    if seed is None:
        raise SpecError("lgn_dense_input", "seed", "an integer seed for the background source")
    bkg = background_counts(x.shape[0], x.shape[1], np.random.default_rng(seed), timeline.dt_ms).astype(dtype)
    return np.concatenate([x, bkg], axis=2)


def lgn_stimulus(
    images: np.ndarray,
    seed: int,
    params: LGNParams = LGNParams(),
    timeline: Timeline = Timeline(),
    background: bool = True,
) -> FrozenStimulus:
    """A FrozenStimulus with one trial per image: LGN sources 0 .. 2P-1 (ON, OFF), then ``bkg`` = 2P.

    Events carry the real amplitudes 1.3 p (LGN) and the integer counts (background).
    """
    x = lgn_dense_input(images, seed, params, timeline, background)
    return FrozenStimulus(
        dt_ms=timeline.dt_ms,
        n_steps=timeline.n_steps,
        n_trials=x.shape[0],
        events=Events.from_dense(x),
        seed=seed,
        description=(
            f"LGN ON/OFF units of {x.shape[0]} images ({timeline.blank_ms:g} ms blank, {timeline.image_ms:g} ms "
            f"image, to {timeline.duration_ms:g} ms), deterministic 1.3p input"
            + (", common Binomial(10, 0.1) background" if background else "")
        ),
    )


def source_names(n_pixels: int, background: bool = True) -> tuple[str, ...]:
    """Names of the sources in the order :func:`lgn_stimulus` emits them."""
    names = [f"lgn_on_{i}" for i in range(n_pixels)] + [f"lgn_off_{i}" for i in range(n_pixels)]
    return tuple(names + (["bkg"] if background else []))

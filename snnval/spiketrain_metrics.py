"""Spike-train distances and statistics on plain numpy arrays of spike times in ms.

The definitions follow the papers cited in each function and agree with Elephant
(``elephant.spike_train_dissimilarity``, ``elephant.statistics``,
``elephant.spike_train_correlation``) to floating-point precision; the unit tests in
``tests/test_metrics_vs_elephant.py`` check that. The implementations are our own and
work without neo/quantities: times are float arrays in **ms**, rates come out in **Hz**.

Two forms exist for the distances:

* a single pair of trains (:func:`van_rossum_distance`, :func:`victor_purpura_distance`);
* many pairs at once, one per group (e.g. one per (trial, neuron)), vectorised across
  groups (:func:`van_rossum_distances_grouped`, :func:`victor_purpura_distances_grouped`),
  which :mod:`snnval.compare` uses so that a 50,000-neuron comparison does not loop over
  neurons in Python.

Spike times within one train need not be sorted; they are sorted here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from snnval.errors import SpecError

#: Pairwise blocks of the van Rossum closed form hold at most this many float64 values (~32 MB).
_PAIR_BLOCK = 4_000_000


def _times(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise SpecError("spike train", name, "finite spike times in ms")
    return np.sort(arr)


def _positive(value: float, name: str, allow_zero: bool = False, allow_inf: bool = False) -> float:
    value = float(value)
    ok = (value >= 0 if allow_zero else value > 0) and (allow_inf or np.isfinite(value)) and not np.isnan(value)
    if not ok:
        raise SpecError("spike-train metric", name, f"a {'non-negative' if allow_zero else 'positive'} number")
    return value


# --------------------------------------------------------------------------------------------
# van Rossum distance
# --------------------------------------------------------------------------------------------


def _summed_exp_kernel(x: np.ndarray, y: np.ndarray, tau_ms: float) -> float:
    """sum_ij exp(-|x_i - y_j| / tau), in row blocks so memory stays bounded."""
    if x.size == 0 or y.size == 0:
        return 0.0
    rows = max(1, _PAIR_BLOCK // y.size)
    total = 0.0
    for start in range(0, x.size, rows):
        block = x[start : start + rows, None] - y[None, :]
        total += float(np.exp(-np.abs(block) / tau_ms).sum())
    return total


def van_rossum_distance(x_ms: Sequence[float], y_ms: Sequence[float], tau_ms: float) -> float:
    """van Rossum distance between two spike trains (dimensionless).

    Each train is convolved with a causal exponential kernel ``exp(-t/tau) H(t)`` and the
    distance is ``D = sqrt((2/tau) * integral (f(t) - g(t))^2 dt)``, computed in closed form as
    ``D^2 = sum_ij k(x_i, x_j) + sum_ij k(y_i, y_j) - 2 sum_ij k(x_i, y_j)`` with
    ``k(s, t) = exp(-|s - t| / tau)``.

    Source: M. C. W. van Rossum (2001), "A novel spike distance", Neural Computation 13:751-763.
    Normalisation: van Rossum defines ``D^2 = (1/tau) integral ...``; like Elephant we use twice
    that, so that a single spike against an empty train is at distance 1.

    Parameters
    ----------
    x_ms, y_ms : array-like of float
        Spike times in ms.
    tau_ms : float
        Kernel time constant in ms (> 0). ``tau -> 0`` counts non-coincident spikes,
        ``tau -> inf`` compares spike counts.

    Returns
    -------
    float
        The distance, >= 0.
    """
    tau = _positive(tau_ms, "tau_ms")
    x, y = _times(x_ms, "x_ms"), _times(y_ms, "y_ms")
    sq = _summed_exp_kernel(x, x, tau) + _summed_exp_kernel(y, y, tau) - 2.0 * _summed_exp_kernel(x, y, tau)
    # Cancellation of nearly equal sums can leave a tiny negative value; the true value is >= 0.
    return float(np.sqrt(max(sq, 0.0)))


def _length_buckets(lengths: np.ndarray) -> Iterator[np.ndarray]:
    """Indices of groups with similar length (within a factor 2), so padding wastes < 2x."""
    nonzero = np.flatnonzero(lengths > 0)
    if nonzero.size == 0:
        return
    octave = np.floor(np.log2(lengths[nonzero])).astype(np.int64)
    for level in np.unique(octave):
        yield nonzero[octave == level]


def _padded(group: np.ndarray, values: np.ndarray, groups: np.ndarray, n_groups: int, fill: float) -> np.ndarray:
    """The values of each group in ``groups`` as one row each, padded at the end with ``fill``.

    ``group`` must be sorted (values of one group contiguous and in order).
    Returns an array of shape (len(groups), longest of those groups).
    """
    row_of = np.full(n_groups, -1, dtype=np.int64)
    row_of[groups] = np.arange(groups.size)
    rows = row_of[group]
    keep = rows >= 0
    rows, vals = rows[keep], values[keep]
    lengths = np.bincount(rows, minlength=groups.size)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(rows.size) - starts[rows]
    out = np.full((groups.size, int(lengths.max(initial=0))), fill, dtype=np.float64)
    out[rows, pos] = vals
    return out


def _check_groups(group, times, n_groups: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    group = np.asarray(group, dtype=np.int64).ravel()
    times = np.asarray(times, dtype=np.float64).ravel()
    if group.shape != times.shape:
        raise SpecError("grouped spike trains", name, "group and time arrays of the same length")
    if group.size and (group.min() < 0 or group.max() >= n_groups):
        raise SpecError("grouped spike trains", name, f"group ids in [0, {n_groups})")
    if not np.all(np.isfinite(times)):
        raise SpecError("grouped spike trains", name, "finite spike times in ms")
    return group, times


def van_rossum_distances_grouped(a_group, a_ms, b_group, b_ms, n_groups: int, tau_ms: float) -> np.ndarray:
    """van Rossum distance of train a_g against train b_g for every group g (see :func:`van_rossum_distance`).

    Vectorised across groups: spikes of both trains are merged in time order with weights
    +1 (a) and -1 (b); then ``D^2 = sum_j w_j^2 + 2 sum_j w_j A_j`` with the causal trace
    ``A_j = exp(-(t_j - t_{j-1})/tau) (A_{j-1} + w_{j-1})``. The loop runs over the position in
    the merged train (its length), every step working on all groups at once; groups are
    bucketed by length so padding stays below 2x. The recursion only multiplies by factors
    <= 1, so it is numerically stable; summation order differs from the pairwise form, hence
    agreement to ~1e-12, not bitwise.

    Parameters
    ----------
    a_group, b_group : array-like of int
        Group id of each spike, in [0, n_groups).
    a_ms, b_ms : array-like of float
        Spike times in ms.
    n_groups : int
        Number of groups.
    tau_ms : float
        Kernel time constant in ms.

    Returns
    -------
    np.ndarray
        Shape (n_groups,), the distance per group (0 for groups empty in both).
    """
    tau = _positive(tau_ms, "tau_ms")
    ga, ta = _check_groups(a_group, a_ms, n_groups, "a")
    gb, tb = _check_groups(b_group, b_ms, n_groups, "b")
    group = np.concatenate((ga, gb))
    times = np.concatenate((ta, tb))
    weight = np.concatenate((np.ones(ta.size), -np.ones(tb.size)))
    order = np.lexsort((times, group))
    group, times, weight = group[order], times[order], weight[order]
    lengths = np.bincount(group, minlength=n_groups)
    sq = np.zeros(n_groups)
    for groups in _length_buckets(lengths):
        # Pad by repeating each group's last time (times ascend, so a running fmax over nan-padding
        # does it): the padded decay is then 1 and the padded weight 0, leaving the sums unchanged.
        t = np.fmax.accumulate(_padded(group, times, groups, n_groups, np.nan), axis=1)
        w = _padded(group, weight, groups, n_groups, 0.0)  # padding weight 0 contributes nothing
        decay = np.exp(-np.diff(t, axis=1) / tau)
        trace = np.zeros(groups.size)
        cross = np.zeros(groups.size)
        for j in range(1, t.shape[1]):
            trace = decay[:, j - 1] * (trace + w[:, j - 1])
            cross += w[:, j] * trace
        sq[groups] = np.sum(w * w, axis=1) + 2.0 * cross
    return np.sqrt(np.maximum(sq, 0.0))


# --------------------------------------------------------------------------------------------
# Victor-Purpura distance
# --------------------------------------------------------------------------------------------


def victor_purpura_distances_grouped(a_group, a_ms, b_group, b_ms, n_groups: int, q_per_ms: float) -> np.ndarray:
    """Victor-Purpura distance of train a_g against train b_g for every group g.

    See :func:`victor_purpura_distance` for the definition. The dynamic programme
    ``D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + q |a_i - b_j|)`` is done one row
    i at a time for all groups of a bucket at once. Within a row the left-to-right dependency
    ``D[i][j] = min(c_j, D[i][j-1] + 1)`` unrolls to ``D[i][j] = j + min_{k<=j}(c_k - k)``, a
    cumulative minimum, so each row is a handful of array operations.

    Parameters
    ----------
    a_group, b_group : array-like of int
        Group id of each spike, in [0, n_groups).
    a_ms, b_ms : array-like of float
        Spike times in ms.
    n_groups : int
        Number of groups.
    q_per_ms : float
        Cost of shifting a spike by 1 ms (1/ms), >= 0; ``inf`` allowed (only exact coincidences match).

    Returns
    -------
    np.ndarray
        Shape (n_groups,), the distance per group.
    """
    q = _positive(q_per_ms, "q_per_ms", allow_zero=True, allow_inf=True)
    ga, ta = _check_groups(a_group, a_ms, n_groups, "a")
    gb, tb = _check_groups(b_group, b_ms, n_groups, "b")
    oa, ob = np.lexsort((ta, ga)), np.lexsort((tb, gb))
    ga, ta, gb, tb = ga[oa], ta[oa], gb[ob], tb[ob]
    n = np.bincount(ga, minlength=n_groups)
    m = np.bincount(gb, minlength=n_groups)
    # A group with one empty train costs one deletion or insertion per spike.
    out = (n + m).astype(np.float64)
    for groups in _length_buckets(np.where((n > 0) & (m > 0), np.maximum(n, m), 0)):
        out[groups] = _vp_bucket(ga, ta, gb, tb, groups, n_groups, n[groups], m[groups], q)
    return out


def _vp_bucket(ga, ta, gb, tb, groups, n_groups: int, n, m, q: float) -> np.ndarray:
    x = _padded(ga, ta, groups, n_groups, 0.0)
    y = _padded(gb, tb, groups, n_groups, 0.0)
    valid_y = np.arange(y.shape[1])[None, :] < m[:, None]
    cols = np.arange(y.shape[1] + 1, dtype=np.float64)
    prev = np.broadcast_to(cols, (groups.size, cols.size)).copy()  # D[0][j] = j insertions
    result = np.empty(groups.size)
    for i in range(1, int(n.max()) + 1):
        shift = np.abs(x[:, i - 1, None] - y)
        # 0 * inf is nan: with q = inf, only exact coincidences can be matched (cost 0).
        cost = np.where(shift == 0, 0.0, np.inf) if np.isinf(q) else q * shift
        cost = np.where(valid_y, cost, np.inf)
        c = np.empty_like(prev)
        c[:, 0] = i  # D[i][0] = i deletions
        c[:, 1:] = np.minimum(prev[:, 1:] + 1.0, prev[:, :-1] + cost)
        prev = cols + np.minimum.accumulate(c - cols, axis=1)
        done = n == i
        result[done] = prev[done, m[done]]
    return result


def victor_purpura_distance(x_ms: Sequence[float], y_ms: Sequence[float], q_per_ms: float) -> float:
    """Victor-Purpura spike-time distance (dimensionless cost).

    The minimal total cost of turning train x into train y, where deleting or inserting a
    spike costs 1 and shifting a spike by ``dt`` ms costs ``q |dt|``.

    Source: J. D. Victor and K. P. Purpura (1996), "Nature and precision of temporal coding in
    visual cortex: a metric-space analysis", J. Neurophysiol. 76:1310-1326 (metric D^spike[q]).

    Parameters
    ----------
    x_ms, y_ms : array-like of float
        Spike times in ms.
    q_per_ms : float
        Shift cost per ms (1/ms), >= 0. ``q = 0`` gives ``|n_x - n_y|``; ``q = inf`` gives the number
        of non-coincident spikes. Two spikes further apart than ``2/q`` ms are never paired.

    Returns
    -------
    float
        The distance, >= 0.
    """
    x, y = _times(x_ms, "x_ms"), _times(y_ms, "y_ms")
    d = victor_purpura_distances_grouped(
        np.zeros(x.size, dtype=np.int64), x, np.zeros(y.size, dtype=np.int64), y, 1, q_per_ms
    )
    return float(d[0])


# --------------------------------------------------------------------------------------------
# Rates and interval statistics
# --------------------------------------------------------------------------------------------


def firing_rate(times_ms: Sequence[float], t_start_ms: float, t_stop_ms: float) -> float:
    """Mean firing rate in Hz: spikes in the closed interval [t_start, t_stop] per second.

    The closed interval follows ``elephant.statistics.mean_firing_rate``. On the integer step
    grid use half-open step windows instead (see :mod:`snnval.compare`).

    Parameters
    ----------
    times_ms : array-like of float
        Spike times in ms.
    t_start_ms, t_stop_ms : float
        Window in ms, ``t_stop_ms > t_start_ms``.

    Returns
    -------
    float
        Rate in Hz (spikes per second).
    """
    if not t_stop_ms > t_start_ms:
        raise SpecError("firing_rate", "t_stop_ms", f"> t_start_ms = {t_start_ms}")
    t = np.asarray(times_ms, dtype=np.float64)
    count = np.count_nonzero((t >= t_start_ms) & (t <= t_stop_ms))
    return count / ((t_stop_ms - t_start_ms) * 1e-3)


def isi(times_ms: Sequence[float]) -> np.ndarray:
    """Inter-spike intervals in ms of one train (spike times are sorted first)."""
    return np.diff(_times(times_ms, "times_ms"))


def cv_isi(times_ms: Sequence[float]) -> float:
    """Coefficient of variation of the inter-spike intervals, ``std(ISI) / mean(ISI)`` (ddof = 0).

    Source: the classic irregularity measure (e.g. W. R. Softky and C. Koch (1993),
    J. Neurosci. 13:334-350); equals ``elephant.statistics.cv`` applied to the intervals.

    Returns ``nan`` with fewer than 2 intervals (fewer than 3 spikes). This is deliberately
    stricter than Elephant, whose ``cv`` of a single interval is 0.0: one interval says nothing
    about irregularity, and a 0 would pull population CV distributions down.

    Parameters
    ----------
    times_ms : array-like of float
        Spike times in ms.

    Returns
    -------
    float
        Dimensionless CV, or nan.
    """
    intervals = isi(times_ms)
    if intervals.size < 2:
        return float("nan")
    return float(np.std(intervals) / np.mean(intervals))


def lv(times_ms: Sequence[float]) -> float:
    """Local variation of the inter-spike intervals.

    ``LV = 3/(n-1) * sum_{i=1}^{n-1} ((I_i - I_{i+1}) / (I_i + I_{i+1}))^2`` for n intervals I_i;
    1 for a Poisson process, 0 for a regular one, independent of slow rate changes.

    Source: S. Shinomoto, K. Shima and J. Tanji (2003), "Differences in spiking patterns among
    cortical neurons", Neural Computation 15:2823-2842; equals ``elephant.statistics.lv``.

    Returns ``nan`` with fewer than 2 intervals (Elephant raises, or returns nan with
    ``with_nan=True``). Two spikes in the same instant (a zero pair of intervals) give nan too.

    Parameters
    ----------
    times_ms : array-like of float
        Spike times in ms.

    Returns
    -------
    float
        Dimensionless LV, or nan.
    """
    intervals = isi(times_ms)
    if intervals.size < 2:
        return float("nan")
    a, b = intervals[:-1], intervals[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(3.0 * np.mean(((a - b) / (a + b)) ** 2))


# --------------------------------------------------------------------------------------------
# Binned correlation
# --------------------------------------------------------------------------------------------


def binned_counts(
    trains_ms: Sequence[Sequence[float]], t_start_ms: float, t_stop_ms: float, bin_ms: float
) -> np.ndarray:
    """Spike counts per train and bin, shape (n_trains, n_bins), bins ``[t_start + k b, t_start + (k+1) b)``.

    ``n_bins = floor((t_stop - t_start) / bin)``; spikes outside the bins are dropped. Times on a
    bin edge are binned by floating-point division, so on the integer step grid bin the step
    indices instead (exact; :mod:`snnval.compare` does).

    Parameters
    ----------
    trains_ms : sequence of array-like of float
        Spike times in ms, one array per train.
    t_start_ms, t_stop_ms : float
        Window in ms.
    bin_ms : float
        Bin width in ms.

    Returns
    -------
    np.ndarray
        int64 counts, shape (n_trains, n_bins).
    """
    width = _positive(bin_ms, "bin_ms")
    n_bins = int(np.floor((t_stop_ms - t_start_ms) / width))
    if n_bins < 1:
        raise SpecError("binned_counts", "bin_ms", f"<= t_stop - t_start = {t_stop_ms - t_start_ms} ms")
    counts = np.zeros((len(trains_ms), n_bins), dtype=np.int64)
    for row, train in enumerate(trains_ms):
        idx = np.floor((np.asarray(train, dtype=np.float64) - t_start_ms) / width).astype(np.int64)
        idx = idx[(idx >= 0) & (idx < n_bins)]
        counts[row] = np.bincount(idx, minlength=n_bins)
    return counts


def correlation_coefficients(counts: np.ndarray) -> np.ndarray:
    """Pearson correlation coefficient matrix of binned spike counts.

    ``C_ij = cov(c_i, c_j) / sqrt(var(c_i) var(c_j))`` over bins. Trains whose counts do not
    vary (e.g. no spikes) have an undefined coefficient: their rows and columns are nan,
    including the diagonal (as in Elephant). The diagonal of the others is exactly 1.

    Source: the standard binned spike-count correlation used for network validation, e.g.
    Tiddia et al. (2022), Front. Neuroinform. 16:883333 (2 ms bins); equals
    ``elephant.spike_train_correlation.correlation_coefficient`` of a ``BinnedSpikeTrain``.

    Parameters
    ----------
    counts : np.ndarray
        Shape (n_trains, n_bins), counts per bin (any numeric type).

    Returns
    -------
    np.ndarray
        Shape (n_trains, n_trains), float64 coefficients in [-1, 1] or nan.
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2:
        raise SpecError("correlation_coefficients", "counts", "a 2-d array (trains, bins)")
    centred = x - x.mean(axis=1, keepdims=True)
    cov = centred @ centred.T
    norm = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = cov / np.outer(norm, norm)
    flat = norm == 0
    cc[flat, :] = np.nan
    cc[:, flat] = np.nan
    # Rounding can push |C| a hair above 1; clip so downstream code can rely on the range.
    np.clip(cc, -1.0, 1.0, out=cc)
    idx = np.flatnonzero(~flat)
    cc[idx, idx] = 1.0
    return cc


def oscillation_frequency(
    population_counts: np.ndarray,
    bin_ms: float,
    f_min_Hz: float = 5.0,
    f_max_Hz: float = 200.0,
    segment_ms: float = 100.0,
    nfft: int = 1024,
) -> float:
    """Frequency (Hz) of the peak of the population-rate power spectrum, estimated by Welch's method.

    The population rate is the summed spike count of a population per bin (shape ``(n_bins,)``, or
    ``(n_trials, n_bins)`` whose spectra are averaged). Its mean is removed, the power spectral
    density is estimated with Welch's method (Welch 1967, IEEE Trans. Audio Electroacoust. 15:70;
    Hann window, segments of ``segment_ms`` with 50 % overlap, ``scipy.signal.welch``), zero-padded
    to ``nfft`` points so the peak is located finer than the 1 / segment resolution, and the
    frequency of the largest power in ``[f_min_Hz, f_max_Hz]`` is returned: the usual read-out of a
    network rhythm such as PING gamma (e.g. Brunel & Wang 2003, J. Neurophysiol. 90:415). A silent
    or constant population has no peak: nan.

    Parameters
    ----------
    population_counts : np.ndarray
        Spike counts per bin, (n_bins,) or (n_trials, n_bins).
    bin_ms : float
        Bin width in ms (sampling interval of the rate signal).
    f_min_Hz, f_max_Hz : float
        Band searched for the peak.
    segment_ms : float
        Welch segment length in ms (clipped to the signal length). A rhythm needs a few cycles per
        segment to be located: with 100 ms, frequencies from ~25 Hz (theta/beta/gamma) are found
        within 2 Hz, slower ones are biased towards the low-frequency edge.
    nfft : int
        FFT length per segment (>= segment length in bins).
    """
    from scipy.signal import welch

    x = np.atleast_2d(np.asarray(population_counts, dtype=np.float64))
    width = _positive(bin_ms, "bin_ms")
    fs_Hz = 1000.0 / width
    n = x.shape[1]
    if n < 4:
        raise SpecError("oscillation_frequency", "population_counts", "at least 4 bins")
    if not 0 < f_min_Hz < f_max_Hz <= fs_Hz / 2:
        raise SpecError("oscillation_frequency", "f_min_Hz/f_max_Hz", f"0 < f_min < f_max <= {fs_Hz / 2:g} Hz")
    x = x - x.mean(axis=1, keepdims=True)
    if not np.any(x):
        return float("nan")
    nperseg = int(min(n, max(4, round(segment_ms / width))))
    f, p = welch(x, fs=fs_Hz, nperseg=nperseg, nfft=max(int(nfft), nperseg), axis=-1)
    power = p.mean(axis=0)
    band = (f >= f_min_Hz) & (f <= f_max_Hz)
    if not np.any(power[band] > 0):
        return float("nan")
    return float(f[band][np.argmax(power[band])])

"""Heart-rate variability from RR intervals (ms), or from beats found in PPG.

Artefacts and ectopic beats are removed before anything is computed, and the
result says how many were: an interval outside 300–2000 ms is an artefact; one
that differs by more than 20 % from the median of its 5 neighbours on each side
is ectopic (or a missed/extra beat). What is left is the NN series.

Time domain: mean NN, SDNN (sample SD); RMSSD and pNN50 (share of NN intervals,
Task Force 1996) over differences of truly successive NN intervals only.
Frequency domain: Lomb-Scargle periodogram of the NN series at the
beat times (no resampling, which RR series would need), scaled to ms²/Hz, with
LF 0.04–0.15 Hz and HF 0.15–0.40 Hz. Frequency measures need at least 2 minutes.

A band sends its RR intervals in chunks (one per heart-rate record, beats may be lost
between two), so ``hrv_from_chunks`` never takes a difference across chunks and gives
the time domain only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import find_peaks, lombscargle

from analytics.signal import bandpass

RR_MIN_MS, RR_MAX_MS = 300.0, 2000.0
ECTOPIC_TOLERANCE = 0.20
NEIGHBOURS = 5
LF_BAND, HF_BAND = (0.04, 0.15), (0.15, 0.40)
MIN_SPECTRAL_S = 120.0


@dataclass(frozen=True)
class HrvResult:
    n_intervals: int
    n_artefacts: int
    n_ectopic: int
    mean_nn_ms: float
    sdnn_ms: float
    rmssd_ms: float
    pnn50_pct: float
    lf_ms2: float | None
    hf_ms2: float | None
    lf_hf: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def clean_rr(
    rr_ms: np.ndarray, times: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(nn_ms, beat_times_s, n_artefacts, n_ectopic); beat times keep real gaps.

    ``times`` (s) defaults to the running sum of the intervals, i.e. one unbroken series.
    """
    rr = np.asarray(rr_ms, dtype=float)
    times = np.cumsum(rr) / 1000.0 if times is None else np.asarray(times, dtype=float)
    plausible = (rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)
    n_art = int((~plausible).sum())
    rr_p, t_p = rr[plausible], times[plausible]
    if rr_p.size == 0:
        return rr_p, t_p, n_art, 0
    padded = np.pad(rr_p, NEIGHBOURS, mode="reflect" if rr_p.size > NEIGHBOURS else "edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * NEIGHBOURS + 1)
    neighbours = np.delete(windows, NEIGHBOURS, axis=1)
    local = np.median(neighbours, axis=1)
    normal = np.abs(rr_p - local) <= ECTOPIC_TOLERANCE * local
    return rr_p[normal], t_p[normal], n_art, int((~normal).sum())


def successive_differences(nn: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """Differences between NN intervals that were adjacent beats: a removed beat between
    two intervals makes their difference meaningless, so it is left out."""
    diff = np.diff(nn)
    if times is None:
        return diff
    adjacent = np.isclose(np.diff(times), nn[1:] / 1000.0, atol=0.002)
    return diff[adjacent]


def time_domain(
    nn: np.ndarray, times: np.ndarray | None = None, chunked: bool = False
) -> tuple[float, float, float, float]:
    """(mean NN, SDNN, RMSSD, pNN50); pass the beat times to skip removed beats.

    pNN50 is per NN interval, counted as neurokit2 does (differences + 1), for one series;
    for chunks it is the share of successive differences, since every chunk boundary
    drops a difference from the count as well.
    """
    diff = successive_differences(nn, times)
    if diff.size == 0:
        raise ValueError("no two successive NN intervals for HRV")
    intervals = diff.size if chunked else diff.size + 1
    return (
        float(nn.mean()),
        float(nn.std(ddof=1)),
        float(np.sqrt(np.mean(diff**2))),
        float(100.0 * np.sum(np.abs(diff) > 50.0) / intervals),
    )


def frequency_domain(nn: np.ndarray, times: np.ndarray) -> tuple[float, float] | None:
    duration = float(times[-1] - times[0]) if times.size else 0.0
    if duration < MIN_SPECTRAL_S or nn.size < 32:
        return None
    freqs = np.linspace(0.01, 0.5, 491)
    x = nn - nn.mean()
    power = lombscargle(times, x, 2 * np.pi * freqs)
    psd = power * 2.0 * duration / nn.size  # ms²/Hz: integrates to the variance
    df = freqs[1] - freqs[0]

    def band(lo: float, hi: float) -> float:
        sel = (freqs >= lo) & (freqs < hi)
        return float(psd[sel].sum() * df)

    return band(*LF_BAND), band(*HF_BAND)


def hrv_from_rr(rr_ms: np.ndarray) -> HrvResult:
    """HRV of one unbroken series of RR intervals (ms)."""
    return _hrv(np.asarray(rr_ms, dtype=float), None, spectral=True)


CHUNK_GAP_S = 10.0  # any gap longer than a beat keeps the chunks' ends from being paired


def hrv_from_chunks(chunks: Iterable[np.ndarray]) -> HrvResult:
    """Time-domain HRV over chunks of RR intervals recorded apart (a band's heart-rate
    records): cleaned as one series, but no successive difference spans two chunks."""
    rr_parts, time_parts, end = [], [], 0.0
    for chunk in chunks:
        rr = np.asarray(chunk, dtype=float)
        if rr.size:
            rr_parts.append(rr)
            time_parts.append(end + np.cumsum(rr) / 1000.0)
            end = float(time_parts[-1][-1]) + CHUNK_GAP_S
    if not rr_parts:
        raise ValueError("no RR intervals")
    return _hrv(np.concatenate(rr_parts), np.concatenate(time_parts), spectral=False)


def _hrv(rr_ms: np.ndarray, times: np.ndarray | None, spectral: bool) -> HrvResult:
    nn, times, n_art, n_ect = clean_rr(rr_ms, times)
    if nn.size < 3:
        raise ValueError(f"too few normal intervals for HRV ({nn.size} after cleaning)")
    mean_nn, sdnn, rmssd, pnn50 = time_domain(nn, times, chunked=not spectral)
    freq = frequency_domain(nn, times) if spectral else None
    lf, hf = freq if freq else (None, None)
    return HrvResult(
        n_intervals=int(rr_ms.size),
        n_artefacts=n_art,
        n_ectopic=n_ect,
        mean_nn_ms=round(mean_nn, 2),
        sdnn_ms=round(sdnn, 2),
        rmssd_ms=round(rmssd, 2),
        pnn50_pct=round(pnn50, 2),
        lf_ms2=None if lf is None else round(lf, 1),
        hf_ms2=None if hf is None else round(hf, 1),
        lf_hf=None if not hf else round(lf / hf, 3),
    )


def beats_from_ppg(ppg: np.ndarray, fs: float) -> np.ndarray:
    """RR intervals (ms) from PPG pulse peaks; the intervals go through clean_rr later."""
    x = bandpass(np.asarray(ppg, dtype=float), fs, 0.5, 8.0)
    peaks, _ = find_peaks(x, distance=max(1, int(0.33 * fs)), prominence=0.3 * np.std(x))
    return np.diff(peaks) / fs * 1000.0


IRREGULAR_NRMSSD = 0.12  # RMSSD / mean RR above this in a chunk: irregular (AF screens use ~0.1)
IRREGULAR_SHARE = 0.8  # of chunks, for the rhythm to count as persistently irregular
MIN_CHUNK_BEATS = 20
MIN_CHUNKS = 5


def persistently_irregular(chunks: list[np.ndarray]) -> bool:
    """True when most chunks (e.g. minutes) of RR intervals are irregular, as in atrial
    fibrillation; a few ectopic beats or one noisy minute are not enough."""
    scores = []
    for rr in chunks:
        rr = np.asarray(rr, dtype=float)
        rr = rr[(rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)]
        if rr.size < MIN_CHUNK_BEATS:
            continue
        nrmssd = np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean()
        scores.append(nrmssd > IRREGULAR_NRMSSD)
    return len(scores) >= MIN_CHUNKS and float(np.mean(scores)) >= IRREGULAR_SHARE

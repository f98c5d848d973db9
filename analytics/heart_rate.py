"""Heart rate from wrist PPG during motion: spectral peak tracking with the
accelerometer's spectrum subtracted.

Per 8-s window (2-s step, the SP Cup convention): both PPG channels and the three
acceleration axes are band-passed to 0.6–3.5 Hz (36–210 bpm) and resampled to
25 Hz. The PPG power spectra (normalised, summed over channels) minus a multiple
of the normalised acceleration spectrum leave the pulse peak standing where arm
swing and footfall harmonics would dominate. The first estimate is the strongest
peak at rest; later ones look only near the previous one (heart rate changes by a
few bpm per second at most), falling back to the previous value when no peak is
clear. This is the core of TROIKA-style trackers without the sparse decomposition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from analytics.params import load
from analytics.signal import bandpass

WINDOW_S = 8.0
STEP_S = 2.0
WORK_FS = 25.0
NFFT = 2048
LOW_BPM, HIGH_BPM = 40.0, 210.0
# Tuned by bench/fit_heart_rate.py (leave-one-recording-out) into params/heart_rate.json:
# acc_weight (how much motion spectrum to subtract), penalty_per_bpm (cost of a change
# of heart rate between windows), max_jump_bpm (largest change per 2-s step).


@dataclass(frozen=True)
class HrWindow:
    t_end: float
    bpm: float


def _to_work_rate(x: np.ndarray, fs: float) -> np.ndarray:
    up, down = int(WORK_FS * 100), round(fs * 100)
    g = np.gcd(up, down)
    return resample_poly(x, up // g, down // g, axis=0)


def _spectrum(x: np.ndarray) -> np.ndarray:
    x = (x - x.mean(0)) * np.hanning(x.shape[0])[:, None]
    p = np.abs(np.fft.rfft(x, NFFT, axis=0)) ** 2
    return p / (p.max(0) + 1e-12)


def _spectra(ppg: np.ndarray, acc: np.ndarray | None, fs: float, acc_weight: float):
    """Per window: PPG power minus the motion spectrum, over the heart-rate band."""
    ppg = _to_work_rate(bandpass(np.atleast_2d(np.asarray(ppg, float).T).T, fs, 0.6, 3.5), fs)
    motion = None
    if acc is not None:
        motion = _to_work_rate(bandpass(np.asarray(acc, dtype=float), fs, 0.6, 3.5), fs)
    freqs = np.fft.rfftfreq(NFFT, 1 / WORK_FS) * 60.0
    band = (freqs >= LOW_BPM) & (freqs <= HIGH_BPM)
    win, step = int(WINDOW_S * WORK_FS), int(STEP_S * WORK_FS)
    rows = []
    for start in range(0, ppg.shape[0] - win + 1, step):
        spec = _spectrum(ppg[start : start + win]).sum(1)
        if motion is not None:
            spec = spec - acc_weight * _spectrum(motion[start : start + win]).max(1) * spec.max()
        spec = np.clip(spec[band], 0, None)
        rows.append(spec / (spec.max() + 1e-12))
    return freqs[band], np.array(rows).reshape(len(rows), int(band.sum()))


def _best_path(score: np.ndarray, freqs: np.ndarray, penalty: float, max_jump: float):
    """Viterbi: the heart-rate track maximising spectral support minus a cost per bpm
    of change, with changes above ``max_jump`` bpm per step ruled out."""
    resolution = float(freqs[1] - freqs[0])
    reach = max(1, int(max_jump / resolution))
    offsets = np.arange(-reach, reach + 1)
    costs = penalty * np.abs(offsets) * resolution
    n, m = score.shape
    total = score[0].copy()
    back = np.zeros((n, m), dtype=np.int32)
    idx = np.arange(m)
    for t in range(1, n):
        cand = np.full((offsets.size, m), -np.inf)
        for k, off in enumerate(offsets):
            src = idx - off
            ok = (src >= 0) & (src < m)
            cand[k, ok] = total[src[ok]] - costs[k]
        best = np.argmax(cand, axis=0)
        back[t] = idx - offsets[best]
        total = cand[best, idx] + score[t]
    path = np.zeros(n, dtype=np.int32)
    path[-1] = int(np.argmax(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return freqs[path]


def heart_rate_windows(
    ppg: np.ndarray, acc: np.ndarray | None, fs: float, params: dict | None = None
) -> list[HrWindow]:
    """One estimate per 8-s window every 2 s; ``ppg`` is (n,) or (n, channels)."""
    p = params or load("heart_rate")
    freqs, score = _spectra(ppg, acc, fs, p["acc_weight"])
    if score.shape[0] == 0:
        return []
    bpm = _best_path(score, freqs, p["penalty_per_bpm"], p["max_jump_bpm"])
    return [
        HrWindow(round(k * STEP_S + WINDOW_S, 1), round(float(b), 1)) for k, b in enumerate(bpm)
    ]

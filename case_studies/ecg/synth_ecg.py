"""A synthetic two-lead ECG with normal and anomalous beats, cut into beat-aligned windows.

Every beat is a sum of Gaussian waves (P, Q, R, S, T; after McSharry et al., "A dynamical
model for generating synthetic electrocardiogram signals", IEEE TBME 50(3), 2003, whose
waves are Gaussians in time too), one set of waves per lead. A window is one beat, the
*centre* beat, seen from ``WINDOW_S[0]`` before its R peak to ``WINDOW_S[1]`` after it, with
the tail of the beat before and the start of the beat after when they fall inside. Its label
is the centre beat's kind: ``normal`` -> 0, any other kind -> 1. The kinds:

* ``normal``: P wave, narrow QRS, upright T, regular rhythm;
* ``pvc`` (premature ventricular contraction): early (55-70 % of the RR interval), no P
  wave, wide bizarre QRS, T wave opposite to the QRS;
* ``wide_qrs`` (bundle-branch-block-like conduction): P wave and timing normal, QRS about
  2.5 times wider with a notched R (an R' wave 40 ms after R);
* ``missing_p`` (junctional / AF-like): no P wave, irregular timing, QRS and T normal.

Noise on top: per window a random heart rate (55-100 bpm), beat-to-beat variation of
every wave's amplitude, width and time, baseline wander (two sinusoids of 0.1-0.5 Hz,
up to 0.3 mV) and white measurement noise. The waves are drawn at ``FS_ANALOG`` Hz and
block-averaged (a simple anti-aliasing ADC) to ``FS`` Hz: ``T = 64`` samples per window.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed gives the
same windows, bit for bit. Units: millivolts and seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FS_ANALOG = 400  # Hz: the waves are drawn this finely ...
DECIMATE = 5  # ... then averaged over blocks of 5 samples
FS = FS_ANALOG // DECIMATE  # 80 Hz: the sampling rate of the windows
WINDOW_S = (-0.30, 0.50)  # seconds around the centre beat's R peak
T = round((WINDOW_S[1] - WINDOW_S[0]) * FS)  # 64 samples
LEADS = 2
KINDS = ("normal", "pvc", "wide_qrs", "missing_p")
ANOMALOUS_FRACTION = 0.5  # of centre beats; the anomalous ones split evenly over the three kinds

# Per lead, per wave: (time relative to R in s, amplitude in mV, Gaussian width sigma in s).
# Lead 0 looks like a limb lead (tall R, upright T), lead 1 like V1 (small r, deep S).
NORMAL_WAVES = (
    {"P": (-0.19, 0.16, 0.022), "Q": (-0.028, -0.12, 0.009), "R": (0.0, 1.10, 0.011),
     "S": (0.028, -0.26, 0.009), "T": (0.27, 0.32, 0.042)},
    {"P": (-0.19, 0.09, 0.022), "Q": (-0.028, 0.00, 0.009), "R": (-0.005, 0.35, 0.009),
     "S": (0.030, -0.85, 0.013), "T": (0.27, -0.14, 0.045)},
)


@dataclass(frozen=True)
class Beat:
    """One beat as drawn: its kind, R-peak time (s, relative to the window's centre R peak)
    and its waves per lead (name -> (time, amplitude, sigma), time absolute in the window)."""

    kind: str
    r_time: float
    waves: tuple[dict, ...]


@dataclass(frozen=True)
class Windows:
    """``n`` windows: ``x`` float64 ``[n, T, LEADS]`` in mV, ``y`` int64 labels (0 normal,
    1 anomalous), ``kinds`` the centre beats' kinds and ``beats`` every beat drawn per window
    (the centre beat first), so a test can check each label against what was drawn."""

    x: np.ndarray
    y: np.ndarray
    kinds: tuple[str, ...]
    beats: tuple[tuple[Beat, ...], ...]


def _beat_waves(kind: str, r_time: float, rng: np.random.Generator) -> tuple[dict, ...]:
    """The waves of one beat of ``kind`` whose R peak is at ``r_time``, with beat-to-beat
    variation; P waves are left out of the kinds that have none."""
    scale_amp, scale_width = rng.normal(1.0, 0.08), rng.normal(1.0, 0.06)
    pr = rng.uniform(-0.03, 0.03)  # PR interval variation
    leads = []
    for lead, normal in enumerate(NORMAL_WAVES):
        waves = {}
        for name, (t, a, s) in normal.items():
            a = a * scale_amp * rng.normal(1.0, 0.05)
            s = s * scale_width
            if name == "P":
                t = t + pr
            waves[name] = (t, a, s)
        if kind in ("pvc", "missing_p"):
            del waves["P"]
        if kind == "wide_qrs":
            t, a, s = waves["R"]
            waves["R"] = (t - 0.01, a * 0.8, s * 2.5)
            waves["R'"] = (t + 0.04, a * (0.7 if lead == 0 else 1.6), s * 2.0)
            tq, aq, sq = waves["S"]
            waves["S"] = (tq + 0.05, aq, sq * 2.5)
        if kind == "pvc":
            # a ventricular beat: one wide monophasic complex, T opposite to it
            big = (1.5, 1.0)[lead] * scale_amp
            waves["Q"] = (-0.04, (-0.05, -0.3)[lead], 0.02)
            waves["R"] = (0.0, big, 0.035 * scale_width)
            waves["S"] = (0.07, (-0.3, 0.2)[lead], 0.03)
            waves["T"] = (0.30, (-0.5, 0.35)[lead] * scale_amp, 0.06)
        leads.append({name: (r_time + t, a, s) for name, (t, a, s) in waves.items()})
    return tuple(leads)


def _window(kind: str, rng: np.random.Generator, noise: np.random.Generator | None
            ) -> tuple[np.ndarray, tuple[Beat, ...]]:
    """One window ``[T, LEADS]`` whose centre beat is of ``kind``, and the beats drawn; wander
    and noise come from their own stream ``noise`` (none when it is None)."""
    rr = 60.0 / rng.uniform(55, 100)  # the window's sinus RR interval, s
    irregular = 0.15 if kind == "missing_p" else 0.04
    before = rr * rng.uniform(1 - irregular, 1 + irregular)
    after = rr * rng.uniform(1 - irregular, 1 + irregular)
    if kind == "pvc":  # early, then a compensatory pause
        before = rr * rng.uniform(0.55, 0.70)
        after = 2 * rr - before
    # neighbours: mostly normal, sometimes anomalous too (the label is the centre beat's)
    neighbour = lambda: KINDS[0] if rng.random() < 0.85 else KINDS[int(rng.integers(1, len(KINDS)))]  # noqa: E731
    plan = [(kind, 0.0), (neighbour(), -before), (neighbour(), after)]
    prev_kind = plan[1][0]
    before2 = rr if prev_kind != "pvc" else rr * 0.6
    plan.append((neighbour(), -before - before2))
    beats = tuple(Beat(k, t, _beat_waves(k, t, rng)) for k, t in plan)

    fine = np.arange(T * DECIMATE) / FS_ANALOG + WINDOW_S[0]  # sample times, s
    x = np.zeros((fine.size, LEADS))
    for beat in beats:
        for lead, waves in enumerate(beat.waves):
            for t, a, s in waves.values():
                x[:, lead] += a * np.exp(-0.5 * ((fine - t) / s) ** 2)
    if noise is not None:
        for lead in range(LEADS):
            for _ in range(2):  # baseline wander (breathing, electrode motion)
                f, amp, phase = noise.uniform(0.1, 0.5), noise.uniform(0.0, 0.15), noise.uniform(0, 2 * np.pi)
                x[:, lead] += amp * np.sin(2 * np.pi * f * fine + phase)
        x += noise.normal(0.0, noise.uniform(0.01, 0.04), x.shape)  # measurement noise
    return x.reshape(T, DECIMATE, LEADS).mean(axis=1), beats


def generate(n: int, seed: int, *, anomalous_fraction: float = ANOMALOUS_FRACTION, clean: bool = False) -> Windows:
    """``n`` windows drawn from ``seed``. ``clean=True`` leaves out the wander and the noise
    (the beats are drawn the same), which is how the tests look at the waves themselves."""
    rng = np.random.default_rng(seed)
    noise = None if clean else np.random.default_rng([seed, 1])  # its own stream: clean or not, same beats
    kinds = tuple(KINDS[0] if rng.random() >= anomalous_fraction else KINDS[int(rng.integers(1, len(KINDS)))]
                  for _ in range(n))
    xs, beats = [], []
    for kind in kinds:
        x, b = _window(kind, rng, noise)
        xs.append(x)
        beats.append(b)
    x = np.stack(xs) if xs else np.zeros((0, T, LEADS))
    y = np.array([k != "normal" for k in kinds], dtype=np.int64)
    return Windows(x=x, y=y, kinds=kinds, beats=tuple(beats))

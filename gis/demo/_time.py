"""When demo reports happen: seasons, holidays, weekdays and hours (helper of :mod:`gis.demo.district`).

Each report draws a day from a 365-day curve and an hour from a 24-hour curve. Curves are
products of simple factors (source, season group, hotspot window, hour kind), so the data
show what a real platform shows: supervisors patrol on weekday day shifts, the public calls
in the evening and at weekends, barbecues happen on summer nights, puddles in the plum-rain
season, and almost nothing is reported during the Spring Festival.
"""

from __future__ import annotations

import numpy as np

PERIOD_START = np.datetime64("2025-11-01T00:00:00", "s")
N_DAYS = 365
_DATES = np.datetime64("2025-11-01") + np.arange(N_DAYS)
_DOY = (_DATES - _DATES.astype("datetime64[Y]")).astype(int) + 1
_WEEKDAY = (_DATES.astype(int) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)

# Public holidays of the period (approximate 2026 calendar), with the fraction of
# supervisor reports that still happen; the public keeps calling.
_HOLIDAYS = (
    ("2026-01-01", "2026-01-03", 0.6),
    ("2026-02-15", "2026-02-23", 0.35),
    ("2026-04-04", "2026-04-06", 0.7),
    ("2026-05-01", "2026-05-05", 0.7),
    ("2026-06-19", "2026-06-21", 0.7),
    ("2026-10-01", "2026-10-07", 0.6),
)
# Monday..Sunday factors per source (order of catalog.SOURCES).
_WEEK = np.array(
    [
        [1, 1, 1, 1, 1, 0.6, 0.55],
        [1, 1, 1, 1, 1, 1.1, 1.1],
        [1, 1, 1, 1, 1, 1.25, 1.25],
        [1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 0.05, 0.05],
    ]
)


def _curve(values: str) -> np.ndarray:
    """24 hourly weights written as one line of numbers (00:00 .. 23:00)."""
    return np.array(values.split(), dtype=float)


# Per source (order of catalog.SOURCES): supervisors patrol two day shifts, callers and app
# users peak in the evening, cameras never sleep, higher-level offices work 9-17.
_HOURS = np.array([
    _curve("0  0  0  0  0  0  .2 1.5 3  3  3   2.5 1   1   2.5 3   3   2.5 1  .4  .3  .2  .1 0"),
    _curve(".2 .1 .1 .1 .1 .2 .5 1.2 2  2.5 2.5 2  1.5 1.5 2   2   2   2   2  2.2 2.2 1.8 1  .5"),
    _curve(".2 .1 .1 .1 .1 .2 .5 1.2 2  2  2   2.2 2.2 1.8 1.8 1.8 1.8 2   2.4 2.4 2.2 1.6 .9 .5"),
    _curve(".6 .4 .3 .3 .3 .5 1  1.5 2  2  2   2   2   2   2   2   2   2   2  1.8 1.5 1.2 1  .8"),
    _curve("0  0  0  0  0  0  0  0   1  3  3   2   .5  .5  2.5 3   3   1.5 0  0   0   0   0  0"),
])  # fmt: skip
# Multiplied onto the source curve for reports with a typical time of day.
_HOUR_KINDS = {
    "default": np.ones(24),
    "night": _curve(
        "2 1.2 .5 .1 .05 .05 .05 .05 .05 .05 .05 .1 .1 .1 .1 .1 .2 .5 1.5 3 4 4 3.5 2.5"
    ),
    "market": _curve(".1 .1 .1 .2 .8 2.5 3.5 3.5 3 2 1.2 1 .8 .6 .6 .8 1.2 1.5 1 .5 .3 .2 .1 .1"),
    "school": _curve(".1 .1 .1 .1 .1 .1 .8 4 2 .6 .6 1.5 1.2 .6 .8 2.5 4 2 .5 .2 .2 .2 .2 .2"),
    "commute": _curve(".2 .2 .2 .2 .2 .2 1 3 3 1.2 1 1 1 1 1 1.2 2 3 3 1.2 .8 .5 .3 .2"),
    "worksite": _curve(".2 .2 .2 .2 .2 .2 1 2 2.5 2.5 2.5 2 1.5 2 2.5 2.5 2 1.5 .4 .4 .4 .4 .4 .4"),
}
HOUR_KIND_NAMES = tuple(_HOUR_KINDS)
SEASON_NAMES = (None, "rain", "snow", "summer_night", "dry", "burning")


def _between(start: str, end: str) -> np.ndarray:
    """True on the days from ``start`` to ``end`` inclusive."""
    day = _DATES
    return (day >= np.datetime64(start)) & (day <= np.datetime64(end))


def _season(name: str | None) -> np.ndarray:
    """Yearly curve of a season group (Suzhou climate: plum rain June-July, typhoons later)."""
    summer = (1 + np.cos(2 * np.pi * (_DOY - 205) / 365)) / 2
    if name == "rain":
        return (
            0.3
            + 5 * _between("2026-06-10", "2026-07-15")
            + 2 * _between("2026-08-01", "2026-09-30")
        )
    if name == "snow":
        return (
            0.01 + 4 * _between("2026-01-05", "2026-02-10") + _between("2025-12-20", "2026-02-20")
        )
    if name == "summer_night":
        return 0.35 + 1.3 * summer
    if name == "dry":
        return np.where(
            np.isin(_DATES.astype("datetime64[M]").astype(int) % 12 + 1, [10, 11, 12, 1, 2, 3, 4]),
            1.3,
            0.7,
        )
    if name == "burning":
        return 0.4 + 2.6 * _between("2025-11-01", "2025-12-31")
    return np.ones(N_DAYS)


def school_term() -> np.ndarray:
    """True on school days (weekdays outside the winter and summer holidays)."""
    holiday = _between("2026-01-24", "2026-02-28") | _between("2026-07-04", "2026-08-31")
    return (_WEEKDAY < 5) & ~holiday


def active_window(start_day: int, n_days: int) -> np.ndarray:
    """True on the days of a ``n_days`` long window starting at day ``start_day``."""
    day = np.arange(N_DAYS)
    return (day >= start_day) & (day < start_day + n_days)


def _day_weights(source: int, season: int, window: np.ndarray) -> np.ndarray:
    base = 1 + 0.15 * np.cos(2 * np.pi * (_DOY - 200) / 365)  # more reports in summer
    holiday = np.ones(N_DAYS)
    for start, end, factor in _HOLIDAYS:
        # Supervisors and higher-level orders follow office calendars; the public does not.
        holiday[_between(start, end)] = factor if source in (0, 4) else 0.9
    return base * holiday * _WEEK[source][_WEEKDAY] * _season(SEASON_NAMES[season]) * window


def _sample_rows(weights: np.ndarray, row: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one bin per item from the discrete distribution ``weights[row[k]]``.

    Vectorised inverse-CDF sampling: row ``r``'s CDF is shifted by ``r`` so one
    ``searchsorted`` over the concatenated CDFs serves every row at once.
    """
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(len(weights))[:, None]).ravel()
    pos = np.searchsorted(flat, rng.random(row.size) + row, side="right")
    return np.minimum(pos - row * weights.shape[1], weights.shape[1] - 1)


def sample_times(
    source: np.ndarray,
    season: np.ndarray,
    window: np.ndarray,
    hour_kind: np.ndarray,
    windows: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Local (Asia/Shanghai) observation times as naive ``datetime64[s]``.

    ``source``, ``season``, ``window`` and ``hour_kind`` are per-report indices into
    ``SOURCES``, ``SEASON_NAMES``, ``windows`` (rows of a ``(k, 365)`` day mask) and
    ``HOUR_KIND_NAMES``.
    """
    if source.size == 0:
        return np.array([], dtype="datetime64[s]")
    # One curve per distinct combination actually used; keys packed into one integer.
    n_src, n_season = len(_HOURS), len(SEASON_NAMES)
    day_keys, day_row = np.unique(
        (window * n_season + season) * n_src + source, return_inverse=True
    )
    day_w = np.array(
        [
            _day_weights(k % n_src, k // n_src % n_season, windows[k // (n_src * n_season)])
            for k in day_keys.tolist()
        ]
    )
    day = _sample_rows(day_w, day_row, rng)
    hour_keys, hour_row = np.unique(hour_kind * n_src + source, return_inverse=True)
    kinds = list(_HOUR_KINDS.values())
    hour_w = np.array([_HOURS[k % n_src] * kinds[k // n_src] + 1e-4 for k in hour_keys.tolist()])
    hour = _sample_rows(hour_w, hour_row, rng)
    second = rng.integers(0, 3600, source.size)
    return PERIOD_START + (day * 86400 + hour * 3600 + second).astype("timedelta64[s]")

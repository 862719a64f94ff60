"""Hotspot statistics: Getis-Ord Gi*, confidence bins, period trends, street rates.

Gi* follows PySAL exactly: ``esda.G_Local(y, w, star=True, transform="B")`` with binary
weights plus the unit itself. For unit i with neighbour set N(i) ∪ {i} of size k_i:

    G_i = Σ_{j ∈ N(i) ∪ {i}} y_j / Σ_j y_j        E[G_i] = k_i / n
    V[G_i] = k_i (n − k_i) / (n − 1) / n² · s² / ȳ²       (s² = Σy²/n − ȳ², ȳ = Σy/n)
    z_i = (G_i − E[G_i]) / sqrt(V[G_i])

``p_norm`` is esda's one-sided p-value of |z| (``norm.sf(|z|)``); the confidence bins use
the two-sided ``p = 2 · p_norm``, the convention of ArcGIS's Gi_Bin: ±3 at 99 %, ±2 at
95 %, ±1 at 90 % confidence, sign from z. With ``fdr=True`` each level's cut-off is the
Benjamini-Hochberg threshold over all units instead of the plain alpha.

Examples
--------
>>> from shapely import box
>>> cells = gpd.GeoSeries([box(x, y, x + 1, y + 1) for y in range(5) for x in range(5)],
...                       crs=3857)
>>> y = np.zeros(25); y[[6, 7, 11, 12]] = 10
>>> result = gi_star(y, queen_contiguity(cells))
>>> int(result.bin[12]), int(result.bin[24])
(3, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.hotspots.weights import Contiguity, queen_contiguity

__all__ = [
    "GiStar",
    "gi_star",
    "confidence_bins",
    "fdr_threshold",
    "normal_sf",
    "period_trend",
    "per_100m",
    "previous_period",
    "quarter_bounds",
    "TREND_LABELS",
    "BIN_LEVELS",
    "grid_gi_star",
]

# (bin level, two-sided alpha): 3 ↔ 99 %, 2 ↔ 95 %, 1 ↔ 90 % confidence.
BIN_LEVELS = ((3, 0.01), (2, 0.05), (1, 0.10))
TREND_LABELS = ("increase", "decrease", "unchanged", "new", "gone", "none")
_erfc = np.frompyfunc(math.erfc, 1, 1)


@dataclass(frozen=True)
class GiStar:
    """Gi* of every unit: statistic, moments, z, esda's one-sided p, two-sided p and bin."""

    g: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p_norm: np.ndarray
    p: np.ndarray
    bin: np.ndarray
    fdr: bool

    def frame(self, index=None) -> pd.DataFrame:
        """The per-unit results as a DataFrame (columns gi, z, p, p_norm, bin)."""
        return pd.DataFrame(
            {"gi": self.g, "z": self.z, "p": self.p, "p_norm": self.p_norm, "bin": self.bin},
            index=index,
        )


def normal_sf(x: np.ndarray) -> np.ndarray:
    """Upper tail of the standard normal, ``P(Z > x)``, to double precision (NaN stays NaN)."""
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    out[ok] = 0.5 * _erfc(x[ok] / math.sqrt(2.0)).astype(float)
    out[np.isposinf(x)] = 0.0
    out[np.isneginf(x)] = 1.0
    return out


def gi_star(y: np.ndarray, w: Contiguity, *, fdr: bool = False) -> GiStar:
    """Getis-Ord Gi* of ``y`` over binary contiguity ``w`` (self included), as esda computes it.

    Parameters
    ----------
    y : array of float, one value per unit of ``w`` (event counts).
    w : Contiguity
    fdr : bool
        Bins with Benjamini-Hochberg false-discovery-rate cut-offs instead of plain alpha.

    Returns
    -------
    GiStar
        When every value is equal (or all zero) the statistic is undefined: z and p are NaN
        and every bin is 0.
    """
    y = np.asarray(y, dtype=float)
    if y.shape != (w.n,):
        raise ValueError(f"y has shape {y.shape}, weights have {w.n} units")
    n = w.n
    total = y.sum()
    mean = total / n
    variance_y = (y**2).sum() / n - mean**2
    k = w.cardinalities() + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        g = w.lag(y, star=True) / total
        expected = k / n
        variance = k * (n - k) / (n - 1) / n**2 * (variance_y / mean**2)
        z = (g - expected) / np.sqrt(variance)
    if not (total > 0 and variance_y > 0):
        z = np.full(n, np.nan)
    p_norm = normal_sf(np.abs(z))
    p = np.minimum(2.0 * p_norm, 1.0)
    return GiStar(g, expected, variance, z, p_norm, p, confidence_bins(z, p, fdr=fdr), fdr)


def fdr_threshold(p: np.ndarray, alpha: float) -> float:
    """Benjamini-Hochberg cut-off: reject p ≤ the returned value (0.0 when none qualifies).

    Examples
    --------
    >>> fdr_threshold(np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]), 0.05)
    0.008
    """
    p = np.sort(np.asarray(p, dtype=float)[np.isfinite(p)])
    if len(p) == 0:
        return 0.0
    ok = np.flatnonzero(p <= alpha * np.arange(1, len(p) + 1) / len(p))
    return float(p[ok[-1]]) if len(ok) else 0.0


def confidence_bins(z: np.ndarray, p: np.ndarray, fdr: bool = False) -> np.ndarray:
    """Bins −3..3 from z and the two-sided p: sign(z) × confidence level (see module doc)."""
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    level = np.zeros(len(z), dtype=np.int8)
    for value, alpha in sorted(BIN_LEVELS):
        cut = fdr_threshold(p, alpha) if fdr else alpha
        # Plain alpha: strict, as "p < 0.05"; BH's cut-off is itself an attained p.
        hit = (p <= cut) if fdr else (p < cut)
        level[hit & np.isfinite(z)] = value
    return (np.sign(np.nan_to_num(z)) * level).astype(np.int8)


def period_trend(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Label each unit: increase, decrease, unchanged, new (0 → >0), gone (>0 → 0) or none.

    Examples
    --------
    >>> period_trend(np.array([5, 2, 3, 4, 0, 0]), np.array([2, 5, 3, 0, 1, 0])).tolist()
    ['increase', 'decrease', 'unchanged', 'new', 'gone', 'none']
    """
    cur = np.asarray(current)
    prev = np.asarray(previous)
    out = np.where(cur > prev, "increase", np.where(cur < prev, "decrease", "unchanged"))
    out = np.where((prev == 0) & (cur > 0), "new", out)
    out = np.where((prev > 0) & (cur == 0), "gone", out)
    return np.where((prev == 0) & (cur == 0), "none", out).astype(object)


def per_100m(counts: np.ndarray, length_m: np.ndarray) -> np.ndarray:
    """Events per 100 m of centreline (NaN for a zero length)."""
    length = np.asarray(length_m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(length > 0, np.asarray(counts, dtype=float) * 100.0 / length, np.nan)


def previous_period(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period of equal length just before [start, end).

    Examples
    --------
    >>> previous_period(pd.Timestamp("2026-04-01"), pd.Timestamp("2026-07-01"))
    (Timestamp('2025-12-31 00:00:00'), Timestamp('2026-04-01 00:00:00'))
    """
    if end <= start:
        raise ValueError("the period must end after it starts")
    return start - (end - start), start


def quarter_bounds(quarter: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``"2026Q1"`` → (2026-01-01, 2026-04-01): the start and the exclusive end.

    Examples
    --------
    >>> quarter_bounds("2026Q2")
    (Timestamp('2026-04-01 00:00:00'), Timestamp('2026-07-01 00:00:00'))
    """
    period = pd.Period(quarter, freq="Q")
    return period.start_time.normalize(), (period + 1).start_time.normalize()


def grid_gi_star(
    grids: gpd.GeoDataFrame, counts: pd.Series, *, fdr: bool = False, code_column: str = "code"
) -> gpd.GeoDataFrame:
    """Convenience for notebooks: Gi* of ``counts`` (indexed by code) over ``grids``' queen weights."""
    w = queen_contiguity(grids)
    y = counts.reindex(grids[code_column]).fillna(0).to_numpy(dtype=float)
    result = gi_star(y, w, fdr=fdr)
    out = grids[[code_column, grids.geometry.name]].copy()
    out["events"] = y.astype(int)
    return out.join(result.frame(index=out.index))

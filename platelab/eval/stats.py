"""How far a measured accuracy can be trusted on a small labelled set, and whether two readers really differ.

The real dev sets are small (118 US photos, 370 crops): a few plates either way are within chance, so a change is
judged by the plates it fixed and broke on the same images (McNemar's exact test), not by two percentages.
"""

from __future__ import annotations

from math import comb, sqrt

Z_95 = 1.959964  # two-sided 95% normal quantile


def wilson_interval(hits: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """95% interval for a proportion hits/total (Wilson score interval: sound near 0 and 1 and for small totals)."""
    if total <= 0:
        return 0.0, 1.0
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(fixed: int, broken: int) -> float:
    """Two-sided exact p-value that a change which fixed `fixed` items and broke `broken` (same items, read by
    both readers) is no better or worse than chance: under no difference each changed item goes either way at 1/2."""
    changed = fixed + broken
    if changed == 0:
        return 1.0
    tail: float = sum(comb(changed, k) for k in range(min(fixed, broken) + 1)) / 2**changed
    return min(1.0, 2 * tail)

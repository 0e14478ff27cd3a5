"""Axis-aligned boxes (x, y, w, h) in pixels: how much two of them overlap."""

from __future__ import annotations

Box = tuple[float, float, float, float]  # x, y, w, h


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    overlap_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    overlap = overlap_w * overlap_h
    return overlap / (a[2] * a[3] + b[2] * b[3] - overlap)

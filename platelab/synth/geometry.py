"""Where the camera stands: 3D rotation of a flat plate and the homographies that follow from it."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from platelab.synth.spans import FocalSpan, MarginSpan, TurnSpan


class GeometryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaw: TurnSpan = Field((-25.0, 25.0), description="rotation about the vertical axis, degrees")
    pitch: TurnSpan = Field((-15.0, 15.0), description="rotation about the horizontal axis, degrees")
    roll: TurnSpan = Field((-6.0, 6.0), description="in-plane rotation, degrees")
    focal: FocalSpan = Field((2.0, 8.0), description="focal length / plate width; small = strong perspective")
    pad_x: MarginSpan = Field(
        (-0.03, 0.08), description="crop margin left and right / plate width; negative cuts in, never into a character"
    )
    pad_y: MarginSpan = Field(
        (-0.1, 0.08), description="crop margin above and below / plate height; real crops cut the edges, not the text"
    )
    aspect_jitter: float = Field(0.1, ge=0, le=0.5, description="crop box aspect change (detector boxes vary)")


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    matrix: np.ndarray = rz @ rx @ ry
    return matrix


def perspective_homography(
    centre: tuple[float, float], plate_width: float, yaw: float, pitch: float, roll: float, focal: float
) -> np.ndarray:
    """Homography that turns the plane about centre by (yaw, pitch, roll) as a pinhole camera sees it.

    focal is in plate widths: the camera sits that far from the plate, so a short focal exaggerates the
    near side the way a close camera does.
    """
    f = focal * plate_width
    cx, cy = centre
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    r = rotation(yaw, pitch, roll)
    # plane point (u, v, 0) -> camera point R @ (u, v, 0) + (0, 0, f) -> projected by f / z
    lift = np.array([[r[0, 0], r[0, 1], 0], [r[1, 0], r[1, 1], 0], [r[2, 0], r[2, 1], f]])
    project = np.array([[f, 0, 0], [0, f, 0], [0, 0, 1]], float)
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], float)
    homography: np.ndarray = back @ project @ lift @ to_centre
    return homography


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    homogeneous = np.hstack([pts, np.ones((len(pts), 1))]) @ matrix.T
    moved: np.ndarray = (homogeneous[:, :2] / homogeneous[:, 2:3]).astype(np.float32)
    return moved


def transform_boxes(matrix: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes (x0, y0, x1, y1) -> the bounding boxes of their transformed corners."""
    if len(boxes) == 0:
        return np.zeros((0, 4), np.float32)
    b = np.asarray(boxes, np.float64)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], 1).reshape(-1, 2)
    moved = transform_points(matrix, corners).reshape(-1, 4, 2)
    return np.concatenate([moved.min(1), moved.max(1)], 1).astype(np.float32)


def box_to_size(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> np.ndarray:
    """Affine (as a 3x3 homography) that maps the box onto a width x height image."""
    sx, sy = width / max(x1 - x0, 1e-6), height / max(y1 - y0, 1e-6)
    return np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy], [0, 0, 1]], float)

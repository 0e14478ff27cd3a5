"""Labelled sets, scores and reports for plate reading (numpy/OpenCV only, no torch)."""

from platelab.eval.metrics import (
    CropScores,
    PhotoScores,
    char_error_rate,
    edit_distance,
    edit_operations,
    score_crops,
    score_photos,
)
from platelab.eval.report import failure_montage, format_crop_report, format_photo_report
from platelab.utils.boxes import box_iou

__all__ = [
    "CropScores",
    "PhotoScores",
    "box_iou",
    "char_error_rate",
    "edit_distance",
    "edit_operations",
    "failure_montage",
    "format_crop_report",
    "format_photo_report",
    "score_crops",
    "score_photos",
]

"""One line naming what a benchmark ran on: the same models read a few plates differently across onnxruntime and
OpenCV releases and OpenCV's SIMD code paths, and run at different speeds on different CPUs, so a table is only
comparable with its environment."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2

PACKAGES = ("onnxruntime", "opencv-python-headless", "numpy")


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _installed(package: str) -> str:
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} not installed"


def widest_simd(features_line: str) -> str:
    """The last feature of OpenCV's CPU features line that this CPU has. The line lists baseline features bare,
    then the dispatched ones with a "*" before them and a "?" after those the hardware lacks."""
    usable = [feature.lstrip("*") for feature in features_line.split() if not feature.endswith("?")]
    return usable[-1] if usable else "none"


def opencv_simd() -> str:
    """The widest SIMD code path OpenCV runs here. Its paths round a perspective warp differently (a grey level in a
    few pixels of a plate's crop), and on the benchmark photos that moves a few small plates."""
    if not cv2.useOptimized():
        return "OpenCV SIMD off"
    return f"OpenCV SIMD up to {widest_simd(cv2.getCPUFeaturesLine())}"


def describe_environment() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    packages = ", ".join(_installed(p) for p in PACKAGES)
    return f"{cpu_name()}, {usable} usable cores; Python {platform.python_version()}, {packages}, {opencv_simd()}"

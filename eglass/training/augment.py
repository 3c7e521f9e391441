"""Augmentations for small-data training: random translation, cutout, differentiable
augmentation (DiffAugment) and random affine transforms of the classifier's inputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def translate(
    x: torch.Tensor, max_shift: int, generator: torch.Generator, fill: float = -1.0
) -> torch.Tensor:
    """Shift each image of ``x (N, C, H, W)`` by a random integer offset in
    ``[-max_shift, max_shift]`` along each axis, filling uncovered pixels with ``fill``."""
    n, _, h, w = x.shape
    s = int(max_shift)
    if s == 0:
        return x
    dy = torch.randint(-s, s + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(-s, s + 1, (n, 1, 1), generator=generator).to(x.device)
    padded = F.pad(x, (s, s, s, s), value=fill)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + s - dy).expand(n, h, w)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + s - dx).expand(n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a random ``size x size`` square (centre uniform over the image) in each image."""
    n, _, h, w = x.shape
    top = torch.randint(0, h, (n, 1, 1), generator=generator).to(x.device) - size // 2
    left = torch.randint(0, w, (n, 1, 1), generator=generator).to(x.device) - size // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(
    x: torch.Tensor, policy: Sequence[str], generator: torch.Generator
) -> torch.Tensor:
    """Differentiable augmentation {cite}`zhao2020diffaugment` of images ``(N, C, 32, 32)``.

    ``policy`` lists ``"translation"`` (shift up to 1/8 of the size, background fill) and/or
    ``"cutout"`` (zero a square of half the size), applied in that order.
    """
    for name in policy:
        if name == "translation":
            x = translate(x, round(x.shape[-1] / 8), generator)
        elif name == "cutout":
            x = cutout(x, x.shape[-1] // 2, generator)
        else:
            raise ValueError(f"unknown augmentation {name!r}; expected 'translation' or 'cutout'")
    return x


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    degrees: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 2.0,
    fill: float = -1.0,
) -> torch.Tensor:
    """Random rotation (``±degrees``), isotropic scaling and shift (``±max_shift`` pixels)
    of each image of ``x (N, C, H, W)``, bilinear, uncovered pixels set to ``fill``."""
    n, _, h, w = x.shape
    u = torch.rand(n, 4, generator=generator, dtype=x.dtype).to(x.device)
    angle = torch.deg2rad((2 * u[:, 0] - 1) * degrees)
    s = scale[0] + (scale[1] - scale[0]) * u[:, 1]
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    tx = (2 * u[:, 2] - 1) * max_shift * 2 / w
    ty = (2 * u[:, 3] - 1) * max_shift * 2 / h
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + fill

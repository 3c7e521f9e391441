"""One plotting helper for image strips and grids, used by every chapter."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

__all__ = ["show_images", "to_numpy_image"]


def to_numpy_image(x: torch.Tensor, vmin: float = -1.0, vmax: float = 1.0):
    """One image ``(C, H, W)`` in [vmin, vmax] -> ``(H, W)`` or ``(H, W, C)`` array in [0, 1]."""
    x = x.detach().float().cpu()
    x = ((x - vmin) / (vmax - vmin)).clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def show_images(
    rows: torch.Tensor | Sequence[torch.Tensor],
    *,
    titles: Sequence[Sequence[str]] | Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 1.3,
    cmap: str = "gray",
    vrange: tuple[float, float] = (-1.0, 1.0),
    suptitle: str | None = None,
):
    """Show images as a grid and return the matplotlib figure.

    Args:
        rows: one batch ``(N, C, H, W)`` (wrapped in ``ncols`` columns, default all in one
            row) or a sequence of batches, one per row (rows may differ in length).
        titles: a title per image: a flat list for a single batch, a list per row otherwise.
        row_labels: a label written left of each row.
        size: inches per image.
        vrange: the value range mapped to black..white (``(-1, 1)`` for images,
            use e.g. ``(-0.5, 0.5)`` for differences).
    """
    if isinstance(rows, torch.Tensor):
        batch = rows
        ncols = ncols or batch.shape[0]
        rows = [batch[i : i + ncols] for i in range(0, batch.shape[0], ncols)]
        if titles is not None:
            flat = list(titles)
            titles = [flat[i : i + ncols] for i in range(0, len(flat), ncols)]
    nrows = len(rows)
    ncols = max(r.shape[0] for r in rows)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
        squeeze=False,
    )
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= row.shape[0]:
                ax.axis("off")
                continue
            ax.imshow(to_numpy_image(row[j], *vrange), cmap=cmap, vmin=0, vmax=1)
            if titles is not None and i < len(titles) and j < len(titles[i]):
                ax.set_title(titles[i][j], fontsize=8)
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig

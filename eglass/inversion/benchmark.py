"""The four inverse problems the book inverts digits on (a book fixture; the operators'
registry builds them too, :mod:`eglass.operators`)."""

from __future__ import annotations

from ..operators import CompressedSensing, Inpainting, SuperResolution, box_mask

__all__ = ["benchmark_problems"]


def benchmark_problems(image_shape: tuple[int, int, int] = (1, 32, 32)) -> dict:
    """The four inverse problems the book inverts digits on, by name -> operator.

    ``"SR x4"``, ``"SR x8"`` (box down-scaling), ``"inpainting (box)"`` (a central 12x12
    box hidden, for 32x32 images scaled with the image size) and ``"CS (m=100)"``
    (100 Gaussian measurements, seed 0).

    >>> sorted(benchmark_problems())
    ['CS (m=100)', 'SR x4', 'SR x8', 'inpainting (box)']
    """
    _, h, w = image_shape
    box = (round(12 * h / 32), round(12 * w / 32))
    return {
        "SR x4": SuperResolution(4),
        "SR x8": SuperResolution(8),
        "inpainting (box)": Inpainting(box_mask((h, w), box)),
        "CS (m=100)": CompressedSensing(100, image_shape, seed=0),
    }

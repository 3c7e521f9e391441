"""The items of a batch run: read from the prior's data set, its samples, a folder of PNGs,
a ``.npy`` file or a Zarr array, measured (or taken as measurements) and made noisy.

:func:`load_inputs` returns each item's ``y`` (and its truth when known), or a message naming
an item that cannot be read; :func:`source` lists the items of the data a config names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..operators import add_noise
from ..priors import Prior
from .config import NOISE_SEED, PRIOR_DATA, SAMPLES, BatchConfig, item_seed, make_operator
from .prior import image_shape_of, resolve_prior

__all__ = ["to_images", "read_png", "source", "item_indices", "load_inputs"]


def to_images(a: np.ndarray, name: str, shape: Sequence[int]) -> np.ndarray:
    """One image as float32 ``(C, H, W)`` in [-1, 1] (uint8 0..255 scaled), or a ValueError
    naming ``name`` and the expected and given shapes."""
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 127.5 - 1.0
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name}: image has shape {tuple(a.shape)} but the prior makes "
                         f"images {tuple(shape)}")
    if not np.isfinite(a).all() or a.min() < -1 - 1e-6 or a.max() > 1 + 1e-6:
        raise ValueError(f"{name}: image values must be finite and in [-1, 1] "
                         f"(or uint8 0..255), got [{a.min()}, {a.max()}]")
    return a


def read_png(path: Path, shape: Sequence[int]) -> np.ndarray:
    """A PNG file as an image of ``shape`` (grey for one channel, else RGB), or a ValueError
    naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode.startswith("I"):  # 16-bit grey: scaled from 0..65535, never clipped
                return _grey16(np.asarray(im), path.name, shape)
            im = im.convert("L" if shape[0] == 1 else "RGB")
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path.name}: not a readable PNG image ({err})") from err
    if a.ndim == 3:
        a = a.transpose(2, 0, 1)
    return to_images(a, path.name, shape)


def _grey16(a: np.ndarray, name: str, shape: Sequence[int]) -> np.ndarray:
    """A 16-bit grey PNG's values 0..65535 as an image in [-1, 1] (copied to every channel
    of ``shape``), or a ValueError naming the file for values beyond 16 bits."""
    if a.min() < 0 or a.max() > 65535:
        raise ValueError(f"{name}: 16-bit PNG values must be in 0..65535, got "
                         f"[{a.min()}, {a.max()}]")
    grey = (a.astype(np.float64) / 32767.5 - 1.0).astype(np.float32)[None]
    return to_images(np.repeat(grey, shape[0], axis=0), name, shape)


# (names, read): read(i) gives a Path (a PNG file), an array (an image or a measurement,
# checked) or a tensor (an image G(z*) of the prior itself, taken as it is: its range is the
# generator's).
Source = tuple[list[str], Callable[[int], "np.ndarray | Path | torch.Tensor"]]


def _held_out(prior: Prior) -> Source:
    """The prior's held-out data set, interleaved by class: position in class, then class
    (classes 0, 1, ..., k-1, 0, 1, ...)."""
    x, labels = prior.data("test")
    labels = np.asarray(labels)
    by_class = np.argsort(labels, kind="stable")
    first = np.searchsorted(labels[by_class], labels[by_class])
    position = np.empty_like(by_class)
    position[by_class] = np.arange(len(labels)) - first
    order = np.lexsort((labels, position))
    names = [f"{prior.name}-test-{int(j)}" for j in order]
    return names, lambda i: np.asarray(x[int(order[i])])


def _samples(config: BatchConfig, prior: Prior) -> Source:
    """Truths :math:`G(z^*)` of the prior, item ``i`` from ``item_seed(seed, i)`` through
    :meth:`eglass.priors.Prior.samples` (seeds no other part uses)."""
    if config.count is None:
        raise ValueError(f"data {SAMPLES!r} has no end: give a count")

    def read(i: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):  # loading the generator draws initial weights
            return prior.samples(1, seed=item_seed(config.seed, i))[1][0]

    stop = config.start + config.count
    return [f"{prior.name}-sample-{i}" for i in range(stop)], read


def source(config: BatchConfig, prior: Prior | None = None) -> Source:
    """``(names, read)``: the item names of the data and ``read(i)``: an array, a ``Path``
    (a PNG file, read by :func:`read_png`) or, for samples of the prior, a tensor."""
    if config.data in (PRIOR_DATA, SAMPLES):
        prior = resolve_prior(config) if prior is None else prior
        if config.data == PRIOR_DATA and prior.data is not None:
            return _held_out(prior)
        return _samples(config, prior)
    path = Path(config.data)
    if path.is_dir() and not (path / "zarr.json").exists() and not (path / ".zarray").exists():
        files = sorted(path.glob("*.png"))
        if not files:
            raise FileNotFoundError(f"no .png files in the folder {path}")
        return [f.name for f in files], lambda i: files[i]
    if path.suffix == ".npy":
        a = np.load(path, mmap_mode="r")
    elif path.exists():
        import zarr

        a = zarr.open_array(str(path), mode="r")
    else:
        raise FileNotFoundError(f"data {config.data!r} is neither {PRIOR_DATA!r}, {SAMPLES!r}, "
                                "a folder of PNGs, a .npy file nor a Zarr array")
    return [f"{path.name}[{i}]" for i in range(a.shape[0])], lambda i: np.array(a[i])


def item_indices(config: BatchConfig, names: Sequence[str]) -> range:
    """The indices of the run's items among ``names``, or a ValueError when the data are
    too short for ``count``."""
    stop = len(names) if config.count is None else config.start + config.count
    if config.start >= len(names):
        raise ValueError(f"start={config.start} is past the end of the data {config.data!r}, "
                         f"which has {len(names)} items (0 to {len(names) - 1})")
    if stop > len(names):
        raise ValueError(f"count={config.count} from start={config.start} needs {stop} items "
                         f"but the data {config.data!r} has {len(names)}")
    return range(config.start, stop)


def _measure(config: BatchConfig, A, raw, name: str, image_shape, expected_y):
    """``(x_true or None, y)`` of one raw item."""
    if isinstance(raw, Path):
        raw = read_png(raw, image_shape)
    if isinstance(raw, torch.Tensor) and config.data_kind == "images":
        return raw.numpy(), A(raw[None])
    if config.data_kind == "images":
        x = torch.from_numpy(to_images(np.asarray(raw), name, image_shape))[None]
        return x[0].numpy(), A(x)
    y = torch.from_numpy(np.asarray(raw, dtype=np.float32))[None]
    if tuple(y.shape[1:]) != expected_y:
        raise ValueError(f"{name}: measurement has shape {tuple(y.shape[1:])} but "
                         f"{config.operator} expects {expected_y}")
    return None, y


def load_inputs(config: BatchConfig, indices: Sequence[int] | None = None,
                image_shape: Sequence[int] | None = None) -> dict[int, dict | str]:
    """Read the items: ``{index: {"name", "x_true" (or None), "y"}}`` or ``{index: error}``
    for an item that cannot be read (a corrupt or wrongly shaped file: the message names it
    and gives the expected and the given shape). Noise is added here, seeded per item.
    ``image_shape``: the prior's ``(C, H, W)`` (default: read from the prior)."""
    prior = resolve_prior(config)
    image_shape = tuple(image_shape_of(prior) if image_shape is None else image_shape)
    names, read = source(config, prior)
    every = item_indices(config, names)
    A = make_operator(config, image_shape)
    expected_y = tuple(A(torch.zeros(1, *image_shape)).shape[1:])
    out: dict[int, dict | str] = {}
    for i in every if indices is None else indices:
        try:
            x_true, y = _measure(config, A, read(i), names[i], image_shape, expected_y)
            if config.noise > 0:
                y = add_noise(y, config.noise, seed=item_seed(config.seed, i) + NOISE_SEED)
            out[i] = dict(name=names[i], x_true=x_true, y=y[0].numpy())
        except ValueError as err:
            out[i] = str(err)
    return out

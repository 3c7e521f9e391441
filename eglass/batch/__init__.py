r"""Explore a whole test set: one run over many measurements, on Dask, into a Zarr store.

A :class:`BatchConfig` says what to solve (operator, noise), on what (the held-out digits, a
folder of PNGs, a ``.npy`` or a Zarr array of images or of measurements), with which prior and
methods (e-GLASS, the walk, PULSE) and budgets. :func:`run_item` runs the pipeline of
:mod:`eglass.explore` on one measurement and returns numpy arrays; :func:`run` submits every
item to a ``dask.distributed`` client (by default a :class:`distributed.LocalCluster` of
single-threaded worker processes) and writes each result into the store as it arrives;
:func:`report` summarizes a store. ``eglass run`` / ``eglass report`` (:mod:`eglass.cli`) are
the same calls from the command line.

The store (Zarr v3): root attributes ``config`` (:meth:`BatchConfig.to_dict`) and
``metadata`` (versions, generator SHA-256, seed); one group per item, ``items/00012``, with
the arrays ``y``, ``x_true`` (when known), ``z0``, ``x0`` (the first solution), ``z``, ``x``,
``errors``, ``feasible``, ``method`` (index into ``config["methods"]``), ``mean`` and ``std``
(per pixel, over the feasible solutions and ``x0``), and attributes ``index``, ``name``,
``seed``, ``seconds``, the diversity figures and, last of all, ``done = True``. Only the
client process writes (Zarr's local store replaces each file atomically). A group without
``done`` (a run killed mid-write, or an item that failed) is rewritten on the next run, a
group with it is skipped: re-running the same command resumes. Each item's seed is
:func:`item_seed` ``(seed, index)``: results do not depend on which worker ran an item, or
when.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "OPERATORS",
    "BATCH_METHODS",
    "BatchConfig",
    "ConfigMismatch",
    "RunSummary",
    "item_seed",
    "make_operator",
    "load_prior",
    "load_inputs",
    "run_item",
    "run",
    "make_client",
    "open_store",
    "read_item",
    "done_items",
    "report",
    "uncertainty_sheet",
]

OPERATORS = ("sr", "inpainting", "blur", "cs", "denoising")
BATCH_METHODS = ("eglass", "walk", "pulse")
INVERSIONS = ("iagan", "fast")
DATA_KINDS = ("images", "measurements")
FORMAT = "eglass-batch/1"
# Keys of BatchConfig that say where results go, not what they are: never compared.
_NOT_COMPARED = ("store",)


@dataclass(frozen=True)
class BatchConfig:
    """Everything that decides a batch run's results (the store records it; a re-run with a
    different one is refused).

    Attributes:
        operator: one of :data:`OPERATORS`: ``"sr"`` (``SuperResolution(factor)``),
            ``"inpainting"`` (centred ``box`` x ``box`` hole), ``"blur"`` (Gaussian
            ``blur_size``, ``blur_sigma``), ``"cs"`` (``CompressedSensing(cs_m)``, matrix
            seed ``operator_seed``), ``"denoising"``.
        noise: standard deviation of Gaussian measurement noise on the [-1, 1] scale, drawn
            per item from :func:`item_seed`; 0: noiseless.
        data: ``"mnist"`` (the held-out digits of :func:`eglass.data.mnist`, interleaved by
            class: item ``i`` is the ``i // 10``-th held-out digit of class ``i % 10``), a
            folder of ``.png`` files (sorted by name), a ``.npy`` file or a Zarr array
            ``(N, H, W)`` / ``(N, C, H, W)``.
        data_kind: ``"images"`` (measured here with the operator) or ``"measurements"`` (the
            ``y`` themselves, made by ``operator``; no ground truth).
        count: number of items (``None``: all of the data); start: first item.
        prior: ``"mnist-dcgan"`` or the path of a weights file of
            :func:`eglass.models.save_checkpoint`; prior_sha256: its SHA-256 (required for a
            file).
        methods: any of :data:`BATCH_METHODS`.
        inversion: the first solution: ``"iagan"`` (:func:`eglass.inversion.invert`, budget
            ``restarts``, ``steps``, ``finetune_steps``) or ``"fast"``
            (:func:`eglass.inversion.fast_start`: the shipped encoder's guess for
            ``mnist-dcgan``, one Gaussian start for another prior, refined at most ``steps``
            latent and ``finetune_steps`` fine-tuning steps, the full inversion where that
            falls short).
        restarts, steps, finetune_steps: IAGAN budget (:func:`eglass.inversion.invert`).
        Ks, etas: e-GLASS directions and steps (:func:`eglass.explore.explore`).
        walk_steps: steps of each walk (:class:`eglass.walk.WalkSettings`).
        pulse_n, pulse_steps: PULSE restarts and steps (:func:`eglass.baselines.pulse`).
        tau: feasibility level of every method's solutions.
        seed: run seed; item ``i`` uses :func:`item_seed` ``(seed, i)``.
        store: path of the Zarr store (not part of the compared config).
    """

    operator: str = "sr"
    factor: int = 8
    box: int = 12
    blur_size: int = 7
    blur_sigma: float = 2.0
    cs_m: int = 100
    operator_seed: int = 0
    noise: float = 0.0
    data: str = "mnist"
    data_kind: str = "images"
    count: int | None = 20
    start: int = 0
    prior: str = "mnist-dcgan"
    prior_sha256: str | None = None
    methods: tuple[str, ...] = ("eglass",)
    inversion: str = "iagan"
    restarts: int = 4
    steps: int = 300
    finetune_steps: int = 300
    Ks: tuple[int, ...] = (4, 6, 8)
    etas: tuple[float, ...] = (-3.0, -1.5, 1.5, 3.0)
    walk_steps: int = 16
    pulse_n: int = 8
    pulse_steps: int = 100
    tau: float = 1e-2
    seed: int = 0
    store: str = "eglass-run.zarr"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "methods", tuple(self.methods))
        set_(self, "Ks", tuple(int(k) for k in self.Ks))
        set_(self, "etas", tuple(float(e) for e in self.etas))
        if self.operator not in OPERATORS:
            raise ValueError(f"operator must be one of {OPERATORS}, got {self.operator!r}")
        if self.inversion not in INVERSIONS:
            raise ValueError(f"inversion must be one of {INVERSIONS}, got {self.inversion!r}")
        if self.data_kind not in DATA_KINDS:
            raise ValueError(f"data_kind must be one of {DATA_KINDS}, got {self.data_kind!r}")
        bad = [m for m in self.methods if m not in BATCH_METHODS]
        if bad or not self.methods:
            raise ValueError(f"methods must be a non-empty subset of {BATCH_METHODS}, "
                             f"got {list(self.methods)}")
        for name in ("factor", "box", "blur_size", "cs_m", "restarts", "steps", "walk_steps",
                     "pulse_n", "pulse_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("finetune_steps", "start", "seed", "operator_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError(f"count must be a positive integer or None, got {self.count!r}")
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {self.noise}")
        if not (math.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"tau must be a finite number > 0, got {self.tau}")
        if not self.Ks or min(self.Ks) < 1:
            raise ValueError(f"Ks must be non-empty 1-based indices, got {list(self.Ks)}")
        if not self.etas:
            raise ValueError("etas must hold at least one step")
        if self.prior != "mnist-dcgan" and self.prior_sha256 is None:
            raise ValueError(f"prior {self.prior!r} is a weights file: give its SHA-256 as "
                             "prior_sha256 (eglass.models.sha256_of(path))")

    def to_dict(self) -> dict:
        """The config as JSON-ready values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> BatchConfig:
        """The config of :meth:`to_dict` (unknown keys are an error naming them)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known: {sorted(names)}")
        return cls(**values)

    def replace(self, **changes) -> BatchConfig:
        return dataclasses.replace(self, **changes)


class ConfigMismatch(ValueError):
    """The store was written by a different config."""


@dataclass
class RunSummary:
    """What :func:`run` did: ``done`` items now in the store (of ``total``), the ``skipped``
    ones (already done), ``failed`` ones as ``{index: message}``, and wall ``seconds``."""

    store: str
    total: int
    done: int
    skipped: int
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and self.done == self.total


def item_seed(seed: int, index: int) -> int:
    """The seed of item ``index`` in a run seeded ``seed``: a function of the two only
    (``numpy.random.SeedSequence([seed, index])``), never of the worker or the order.

    >>> item_seed(0, 3) == item_seed(0, 3) != item_seed(0, 4)
    True
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint32)[0])


# --- the problem --------------------------------------------------------------------------

def make_operator(config: BatchConfig, image_shape: Sequence[int] = (1, 32, 32)):
    """The :mod:`eglass.operators` operator of ``config`` for images ``(C, H, W)``."""
    from . import operators

    _, h, w = image_shape
    if config.operator == "sr":
        return operators.SuperResolution(config.factor)
    if config.operator == "inpainting":
        return operators.Inpainting(operators.box_mask((h, w), config.box))
    if config.operator == "blur":
        return operators.Blur(operators.gaussian_kernel(config.blur_size, config.blur_sigma))
    if config.operator == "cs":
        return operators.CompressedSensing(config.cs_m, tuple(image_shape),
                                           seed=config.operator_seed)
    return operators.Denoising()


def load_prior(prior: str = "mnist-dcgan", sha256: str | None = None):
    """The generator ``prior`` names, SHA-256 checked: ``(generator, sha256)``."""
    from . import models

    if prior == "mnist-dcgan":
        entry = models.registry()[prior]
        return models.load_generator(prior), entry["sha256"]
    if sha256 is None:
        raise ValueError(f"prior {prior!r} is a weights file: give its SHA-256")
    return models.load_checkpoint(prior, sha256), sha256.lower()


# One generator, distance and classifier per worker process, loaded on first use.
_WORKER_CACHE: dict = {}


def _worker_models(config: BatchConfig):
    key = (config.prior, config.prior_sha256)
    if key not in _WORKER_CACHE:
        from . import baselines, explore, geometry, inversion, models  # noqa: F401 (imported once)
        from .distances import default_distance

        G, sha = load_prior(config.prior, config.prior_sha256)
        classifier = models.load_classifier() if G.latent_dim == 64 else None
        _WORKER_CACHE.clear()
        _WORKER_CACHE[key] = (G, sha, default_distance(), classifier)
    return _WORKER_CACHE[key]


# --- the data -----------------------------------------------------------------------------

def _to_images(a: np.ndarray, name: str, shape: Sequence[int]) -> np.ndarray:
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


def _read_png(path: Path, shape: Sequence[int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if shape[0] == 1 else "RGB")
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path.name}: not a readable PNG image ({err})") from err
    if a.ndim == 3:
        a = a.transpose(2, 0, 1)
    return _to_images(a, path.name, shape)


def _source(config: BatchConfig):
    """``(names, read)``: the item names of the data and ``read(i) -> array``."""
    if config.data == "mnist":
        from . import data

        x, labels = data.mnist("test")
        order = np.argsort(
            np.arange(len(labels)) - np.searchsorted(labels.numpy(), labels.numpy()),
            kind="stable",
        )  # position in class, then class: 0, 1, ..., 9, 0, 1, ...
        names = [f"mnist-test-{int(j)}" for j in order]
        return names, lambda i: x[int(order[i])].numpy()
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
        raise FileNotFoundError(f"data {config.data!r} is neither 'mnist', a folder of PNGs, "
                                "a .npy file nor a Zarr array")
    return [f"{path.name}[{i}]" for i in range(a.shape[0])], lambda i: np.array(a[i])


def load_inputs(config: BatchConfig, indices: Sequence[int] | None = None,
                image_shape: Sequence[int] = (1, 32, 32)) -> dict[int, dict | str]:
    """Read the items: ``{index: {"name", "x_true" (or None), "y"}}`` or ``{index: error}``
    for an item that cannot be read (a corrupt or wrongly shaped file: the message names it
    and gives the expected and the given shape). Noise is added here, seeded per item."""
    import torch

    from .operators import add_noise

    names, read = _source(config)
    stop = len(names) if config.count is None else config.start + config.count
    if stop > len(names):
        raise ValueError(f"count={config.count} from start={config.start} needs {stop} items "
                         f"but the data {config.data!r} has {len(names)}")
    A = make_operator(config, image_shape)
    expected_y = tuple(A(torch.zeros(1, *image_shape)).shape[1:])
    out: dict[int, dict | str] = {}
    for i in range(config.start, stop) if indices is None else indices:
        try:
            raw = read(i)
            if isinstance(raw, Path):
                raw = _read_png(raw, image_shape)
            if config.data_kind == "images":
                x = torch.from_numpy(_to_images(np.asarray(raw), names[i], image_shape))[None]
                y = A(x)
                x_true = x[0].numpy()
            else:
                y = torch.from_numpy(np.asarray(raw, dtype=np.float32))[None]
                if tuple(y.shape[1:]) != expected_y:
                    raise ValueError(f"{names[i]}: measurement has shape {tuple(y.shape[1:])} "
                                     f"but {config.operator} expects {expected_y}")
                x_true = None
            if config.noise > 0:
                y = add_noise(y, config.noise, seed=item_seed(config.seed, i) + 1)
            out[i] = dict(name=names[i], x_true=x_true, y=y[0].numpy())
        except ValueError as err:
            out[i] = str(err)
    return out


# --- one item -----------------------------------------------------------------------------

def run_item(config: BatchConfig | dict, index: int, y: np.ndarray,
             x_true: np.ndarray | None = None) -> dict:
    r"""The pipeline on one measurement ``y`` (as returned by :func:`load_inputs`): the
    inversion of ``config.inversion``, both metrics, then every method of ``config``; numpy
    arrays only.

    Returns a dict of arrays ``z0 (1, d)``, ``x0 (1, C, H, W)``, ``z (N, d)``, ``x (N, C,
    H, W)``, ``errors (N,)``, ``feasible (N,)`` (``errors <= tau``), ``method (N,)`` (index
    into ``config.methods``), ``mean``, ``std`` (``(C, H, W)`` over ``x0`` and the feasible
    solutions) and the numbers ``seed``, ``seconds``, ``x0_error``, ``diversity`` (mean
    pairwise perceptual distance of the feasible ones), ``classes`` (distinct digits among
    them, with the digit prior), and with ``x_true``: ``within_spread`` (the fraction of
    pixels with :math:`|x_{true} - \mu| \le 2\sigma`) and ``x0_psnr``.
    """
    import torch

    from . import baselines, evaluate, explore, geometry, inversion
    from .problem import InverseProblem

    torch.set_num_threads(1)
    start = time.perf_counter()
    config = BatchConfig.from_dict(config) if isinstance(config, dict) else config
    G, _, distance, classifier = _worker_models(config)
    seed = item_seed(config.seed, index)
    image_shape = tuple(G(torch.zeros(1, G.latent_dim)).shape[1:])
    A = make_operator(config, image_shape)
    problem = InverseProblem(G, A, torch.as_tensor(np.asarray(y))[None], distance=distance)
    if config.inversion == "fast":
        encoder = "mnist-encoder" if config.prior == "mnist-dcgan" else None
        result = inversion.fast_start(problem, encoder=encoder, steps=config.steps,
                                      finetune_steps=max(config.finetune_steps, 1),
                                      noise_sigma=config.noise or None, seed=seed)
    else:
        result = inversion.invert(problem, "iagan", restarts=config.restarts,
                                  steps=config.steps, finetune_steps=config.finetune_steps,
                                  noise_sigma=config.noise or None, seed=seed, progress=False)
    point = result.problem()
    H_Y, H_X = geometry.metrics(point, result.z)
    parts = []
    for m, name in enumerate(config.methods):
        if name == "pulse":
            s = baselines.pulse(InverseProblem(G, A, problem.y), config.pulse_n,
                                steps=config.pulse_steps, seed=seed + 2, progress=False,
                                warn=False)
        else:
            walk = explore.WalkSettings(steps=config.walk_steps) if name == "walk" else None
            s = explore.explore(point, result.z, H_Y, H_X, method=name, Ks=config.Ks,
                                etas=config.etas, tau=config.tau, walk=walk)
        parts.append((m, s))
    with torch.no_grad():
        z = torch.cat([s.z for _, s in parts])
        x = torch.cat([s.x for _, s in parts])
        errors = torch.cat([s.errors for _, s in parts])
        method = torch.cat([torch.full((len(s),), m, dtype=torch.int8) for m, s in parts])
        feasible = errors <= config.tau
        x0 = result.x[:1]
        x0_error = float(problem.error(x0)[0])
        pool = torch.cat([x0, x[feasible]]) if x0_error <= config.tau else x[feasible]
        if len(pool):
            mean, std = pool.mean(0), pool.std(0, unbiased=False)
        else:
            mean = std = torch.full(x.shape[1:], float("nan"))
        div = evaluate.diversity(x, distance, classifier, mask=feasible)
    out = dict(
        z0=result.z[:1].numpy(), x0=x0.numpy(), z=z.numpy(), x=x.numpy(),
        errors=errors.numpy(), feasible=feasible.numpy(), method=method.numpy(),
        mean=mean.numpy(), std=std.numpy(), seed=seed, x0_error=x0_error,
        diversity=div.mean_distance, classes=div.classes, n_feasible=int(feasible.sum()),
    )
    if x_true is not None:
        truth = torch.as_tensor(np.asarray(x_true))
        out["within_spread"] = float(((truth - mean).abs() <= 2 * std).float().mean())
        out["x0_psnr"] = float(evaluate.psnr(x0, truth[None])[0])
    out["seconds"] = time.perf_counter() - start
    return out


def _safe_item(config: dict, index: int, y, x_true) -> dict:
    """:func:`run_item`, with an exception returned as ``{"error": message}``."""
    try:
        return run_item(config, index, y, x_true)
    except Exception as err:  # noqa: BLE001 - one item's failure must not stop the run
        return {"error": f"{type(err).__name__}: {err}"}


# --- the store ----------------------------------------------------------------------------

def _metadata(config: BatchConfig, sha256: str) -> dict:
    import dask
    import distributed
    import torch
    import zarr

    from . import __version__

    return dict(
        format=FORMAT, eglass=__version__, torch=torch.__version__, numpy=np.__version__,
        zarr=zarr.__version__, dask=dask.__version__, distributed=distributed.__version__,
        python=platform.python_version(), generator_sha256=sha256, seed=config.seed,
        item_seeds="numpy.random.SeedSequence([seed, index]).generate_state(1)[0]",
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _differences(stored: dict, current: dict) -> list[str]:
    keys = sorted((set(stored) | set(current)) - set(_NOT_COMPARED))
    return [k for k in keys if stored.get(k) != current.get(k)]


def open_store(config: BatchConfig, sha256: str):
    """The store's root group, created with ``config`` and metadata, or opened if it holds
    the same config; a store of another config raises :class:`ConfigMismatch` naming the
    differing keys."""
    import zarr

    path = Path(config.store)
    current = config.to_dict()
    if path.exists():
        root = zarr.open_group(str(path), mode="a")
        if root.attrs.get("format") != FORMAT:
            raise ConfigMismatch(f"{path} exists but is not an eglass batch store "
                                 f"(format {root.attrs.get('format')!r}); choose another --store")
        stored = dict(root.attrs["config"])
        diff = _differences(stored, current)
        stored_sha = dict(root.attrs["metadata"]).get("generator_sha256")
        if sha256 and stored_sha != sha256:
            stored["generator_sha256"], current = stored_sha, {**current,
                                                               "generator_sha256": sha256}
            diff.append("generator_sha256")
        if diff:
            details = "; ".join(f"{k}: store {stored.get(k)!r}, now {current.get(k)!r}"
                                for k in diff)
            raise ConfigMismatch(f"{path} was written by a different config ({details}); "
                                 "re-run with the same settings to resume, or choose another "
                                 "--store")
        return root
    root = zarr.open_group(str(path), mode="w")
    root.attrs.update(format=FORMAT, config=current, metadata=_metadata(config, sha256))
    root.require_group("items")
    return root


def _item_name(index: int) -> str:
    return f"{index:05d}"


def done_items(root) -> set[int]:
    """Indices of the items whose ``done`` flag is set."""
    if "items" not in root:  # a store being created, or one opened read-only before any item
        return set()
    done = set()
    for name, group in root["items"].groups():
        try:
            if group.attrs.get("done") is True:
                done.add(int(name))
        except (ValueError, KeyError, json.JSONDecodeError):
            continue  # a group killed mid-write: rewritten
    return done


def _write_item(root, index: int, inputs: dict | None, result: dict) -> None:
    """Write an item's arrays, then its attributes with ``done`` last (a failed item: its
    ``error``, no ``done``)."""
    items = root.require_group("items")
    group = items.create_group(_item_name(index), overwrite=True)
    attrs = dict(index=index, name=None if inputs is None else inputs["name"])
    if "error" in result:
        group.attrs.update(**attrs, error=result["error"], done=False)
        return
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    arrays["y"] = inputs["y"]
    if inputs["x_true"] is not None:
        arrays["x_true"] = inputs["x_true"]
    for key, value in arrays.items():
        group.create_array(key, data=np.ascontiguousarray(value))
    scalars = {k: (None if isinstance(v, float) and math.isnan(v) else v)
               for k, v in result.items() if not isinstance(v, np.ndarray)}
    group.attrs.update(**attrs, **scalars, error=None)
    group.attrs["done"] = True


def read_item(root, index: int) -> dict:
    """An item's arrays and attributes as one dict."""
    group = root["items"][_item_name(index)]
    out = dict(group.attrs)
    for name, array in group.arrays():
        out[name] = array[...]
    return out


# --- the run ------------------------------------------------------------------------------

def make_client(workers: int | None, scheduler: str | None):
    """``(client, cluster or None)``: a client of ``scheduler`` or of a new LocalCluster of
    ``workers`` single-threaded processes (default: one per CPU core)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler), None
    import dask

    n = workers if workers is not None else max(1, os.cpu_count() or 1)
    # Two Dask defaults slow torch items down, so our own workers drop them: the statistical
    # profiler (samples the task thread every 10 ms under the GIL; items ~1.3x slower) and
    # the nanny's MALLOC_TRIM_THRESHOLD_=65536 (glibc returns freed memory at once, and
    # torch's many short-lived tensors pay for it: items ~1.7x slower than in a plain loop).
    with dask.config.set({"distributed.worker.profile.enabled": False,
                          "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run(config: BatchConfig, *, client=None, workers: int | None = None,
        scheduler: str | None = None, progress: bool = True) -> RunSummary:
    """Run every item of ``config`` not yet done in its store, on Dask.

    Args:
        config: the run (its ``store`` is created, or resumed if it holds this config).
        client: a ``distributed.Client`` to use (left open); otherwise one of ``scheduler``
            (``"tcp://HOST:PORT"``) or of a new ``LocalCluster`` of ``workers``
            single-threaded processes, closed at the end.
        progress: a tqdm bar over the items as they complete.

    Returns:
        :class:`RunSummary`. Items that cannot be read or whose pipeline raised are in
        ``failed`` (and in the store with their ``error``, without ``done``).
    """
    import torch
    from distributed import as_completed
    from tqdm.auto import tqdm

    begin = time.perf_counter()
    G, sha = load_prior(config.prior, config.prior_sha256)
    with torch.no_grad():
        image_shape = tuple(G(torch.zeros(1, G.latent_dim)).shape[1:])
    root = open_store(config, sha)
    names, _ = _source(config)
    stop = len(names) if config.count is None else config.start + config.count
    indices = list(range(config.start, min(stop, len(names))))
    done = done_items(root)
    pending = [i for i in indices if i not in done]
    inputs = load_inputs(config, pending, image_shape) if pending else {}
    failed = {i: v for i, v in inputs.items() if isinstance(v, str)}
    for i, message in failed.items():
        _write_item(root, i, {"name": names[i]}, {"error": message})
    todo = [i for i in pending if i not in failed]
    if todo:
        own = client is None
        cluster = None
        if own:
            client, cluster = make_client(workers, scheduler)
        try:
            cfg = config.to_dict()
            # task keys name the run (config and store), so that runs sharing a cluster
            # never share a task
            token = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
            futures = {client.submit(_safe_item, cfg, i, inputs[i]["y"], inputs[i]["x_true"],
                                     key=f"eglass-item-{i:05d}-{token}", pure=False): i
                       for i in todo}
            bar = tqdm(total=len(indices), initial=len(done), desc="measurements",
                       unit="item", disable=not progress)
            for future in as_completed(futures):
                i = futures[future]
                result = future.result()
                _write_item(root, i, inputs[i], result)
                if "error" in result:
                    failed[i] = result["error"]
                bar.update(1)
            bar.close()
        finally:
            if own:
                client.close()
                if cluster is not None:
                    cluster.close()
    return RunSummary(store=str(config.store), total=len(indices),
                      done=len(done_items(root) & set(indices)), skipped=len(done),
                      failed=dict(sorted(failed.items())),
                      seconds=time.perf_counter() - begin)


# --- the report ---------------------------------------------------------------------------

def _nanmean(values) -> float | None:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else None


def report(store: str | Path, out: str | Path | None = None, *, sample: int = 8,
           seed: int = 0) -> dict:
    """Summarize a store: writes ``<store>-report.json``, ``<store>-report.md`` and
    ``<store>-uncertainty.png`` (uncertainty maps of ``sample`` items drawn with ``seed``)
    into ``out`` (default: the store's folder) and returns the summary.

    "Ground truth within the spread" is the fraction of pixels with
    :math:`|x_{true} - \\mu| \\le 2\\sigma` (:math:`\\mu, \\sigma` the per-pixel mean and
    standard deviation over the feasible solutions), averaged over items with a known truth.
    """
    import zarr

    store = Path(store)
    if not store.exists():
        raise FileNotFoundError(f"store {store} not found")
    root = zarr.open_group(str(store), mode="r")
    if root.attrs.get("format") != FORMAT:
        raise ValueError(f"{store} is not an eglass batch store")
    config = BatchConfig.from_dict(dict(root.attrs["config"]))
    items = root["items"] if "items" in root else {}
    done = sorted(done_items(root)) if len(items) else []
    failed = {}
    for name, group in (items.groups() if len(items) else []):
        if group.attrs.get("done") is not True:
            failed[int(name)] = group.attrs.get("error")
    rows = [dict(read_item(root, i)) for i in done]
    feas = [float(np.mean(r["feasible"])) for r in rows]
    summary = dict(
        store=str(store), config=config.to_dict(), metadata=dict(root.attrs["metadata"]),
        items=len(done), failed={str(k): v for k, v in sorted(failed.items())},
        feasible_fraction=_nanmean(feas),
        items_with_a_feasible_solution=_nanmean([float(r["n_feasible"] > 0) for r in rows]),
        seconds_per_measurement=_nanmean([r["seconds"] for r in rows]),
        diversity=_nanmean([r.get("diversity") for r in rows]),
        classes=_nanmean([r.get("classes") for r in rows]),
        within_spread=_nanmean([r.get("within_spread") for r in rows]),
        within_spread_definition="fraction of pixels with |x_true - mean| <= 2 std over the "
                                 "feasible solutions (and x0 when feasible), mean over items",
        x0_psnr=_nanmean([r.get("x0_psnr") for r in rows]),
        per_method={m: _nanmean([float(np.mean(r["feasible"][r["method"] == k]))
                                 for r in rows if (r["method"] == k).any()])
                    for k, m in enumerate(config.methods)},
    )
    out = store.parent if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = store.name.removesuffix(".zarr")
    paths = {ext: out / f"{stem}-report.{ext}" for ext in ("json", "md")}
    paths["png"] = out / f"{stem}-uncertainty.png"
    summary["files"] = {k: str(v) for k, v in paths.items()}
    paths["json"].write_text(json.dumps(summary, indent=2))
    paths["md"].write_text(_markdown(summary))
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(rows), size=min(sample, len(rows)), replace=False)) \
        if rows else []
    fig = uncertainty_sheet([rows[i] for i in picks])
    fig.savefig(paths["png"], dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return summary


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _markdown(s: dict) -> str:
    c = s["config"]
    lines = [
        f"# eglass batch report: `{s['store']}`", "",
        f"operator `{c['operator']}`, noise {c['noise']}, data `{c['data']}` "
        f"({c['data_kind']}), prior `{c['prior']}` (SHA-256 "
        f"`{s['metadata']['generator_sha256'][:12]}…`), methods {', '.join(c['methods'])}, "
        f"seed {c['seed']}.", "",
        "| quantity | value |", "|---|---|",
        f"| measurements done | {s['items']} |",
        f"| measurements failed | {len(s['failed'])} |",
        f"| feasible fraction (mean over measurements, tau={c['tau']}) | "
        f"{_fmt(s['feasible_fraction'])} |",
        f"| measurements with a feasible solution | "
        f"{_fmt(s['items_with_a_feasible_solution'])} |",
        f"| seconds per measurement (one worker) | {_fmt(s['seconds_per_measurement'])} |",
        f"| diversity: mean pairwise perceptual distance | {_fmt(s['diversity'])} |",
        f"| diversity: distinct digits | {_fmt(s['classes'])} |",
        f"| ground truth within the spread (pixels with abs(x_true - mean) <= 2 std) | "
        f"{_fmt(s['within_spread'])} |",
        f"| PSNR of the first solution (dB) | {_fmt(s['x0_psnr'])} |",
    ]
    lines += [f"| feasible fraction, {m} | {_fmt(v)} |" for m, v in s["per_method"].items()]
    if s["failed"]:
        lines += ["", "## Failed measurements", ""]
        lines += [f"- item {k}: {v}" for k, v in s["failed"].items()]
    return "\n".join(lines) + "\n"


def uncertainty_sheet(rows: Sequence[dict]):
    """A figure with one row per item (:func:`read_item` dicts): ground truth (when known),
    the measurement (when it is an image, e.g. low resolution or masked), the first
    solution, and the per-pixel mean and standard deviation over the feasible solutions."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = ("ground truth", "measurement", "first solution", "mean", "std (uncertainty)")
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 5, figsize=(8.0, 1.7 * n), squeeze=False)
    vmax = max([float(np.nanmax(r["std"])) for r in rows if np.isfinite(r["std"]).any()],
               default=1.0)
    for row, r in zip(axes, rows, strict=False):
        y = np.asarray(r["y"])
        panels = (r.get("x_true"), y if y.ndim == 3 else None, r["x0"][0], r["mean"], r["std"])
        for j, (ax, img) in enumerate(zip(row, panels, strict=True)):
            if img is not None:
                img = np.asarray(img)
                img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0) * 0.5 + 0.5
                if j < 4:
                    ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
                else:
                    ax.imshow(img, cmap="magma", vmin=0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{r.get('name', '')}\n{int(r.get('n_feasible', 0))} feasible",
                          fontsize=7)
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


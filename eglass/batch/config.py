"""What a batch run is: :class:`BatchConfig`, and how its flat fields feed the operator
registry, the first solution and each method's settings.

The config stays flat (one key per command-line option and TOML key); three small tables say
which fields feed what: :data:`OPERATOR_OPTIONS` (operator name -> its options),
:data:`INVERSION_SETTINGS` (the first solution) and :data:`METHOD_SETTINGS` (each method of
:mod:`eglass.methods` a batch run can use). Adding a method is one entry there.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..operators.registry import OPERATORS
from ..operators.registry import make_operator as build_operator
from ..priors import default_prior, get_prior
from ..utils import check_number, check_one_of, check_positive_int

__all__ = [
    "OPERATORS",
    "OPERATOR_OPTIONS",
    "INVERSION_SETTINGS",
    "INVERSIONS",
    "METHOD_SETTINGS",
    "BATCH_METHODS",
    "DATA_KINDS",
    "PRIOR_DATA",
    "SAMPLES",
    "BatchConfig",
    "item_seed",
    "make_operator",
    "operator_options",
    "inversion_settings",
    "method_settings",
    "check_prior_fits",
]

DATA_KINDS = ("images", "measurements")
PRIOR_DATA = "prior"  # the prior's own held-out data set (its samples where it has none)
SAMPLES = "samples"  # truths G(z*) drawn from the prior

# Seeds of one item, derived from item_seed(seed, index): the first solution uses it as is,
# the measurement noise this + 1, the methods that restart from scratch this + 2.
NOISE_SEED, METHOD_SEED = 1, 2


def _walk(config: BatchConfig, seed: int):
    from ..walk import WalkSettings

    return WalkSettings(steps=config.walk_steps)


def _method_seed(config: BatchConfig, seed: int) -> int:
    return seed + METHOD_SEED


def _fast_finetune(config: BatchConfig, seed: int) -> int:
    return max(config.finetune_steps, 1)  # the fast start refines at least one step


# Setting -> the BatchConfig field it reads, or a function (config, item seed) -> value.
Feeds = dict[str, "str | Callable[[BatchConfig, int], object]"]

#: Operator name -> {option of eglass.operators.registry.make_operator: BatchConfig field}.
#: An operator of the registry that is not listed here is built with its defaults.
OPERATOR_OPTIONS: dict[str, dict[str, str]] = {
    "sr": {"factor": "factor"},
    "inpainting": {"box": "box"},
    "blur": {"size": "blur_size", "sigma": "blur_sigma"},
    "cs": {"m": "cs_m", "seed": "operator_seed"},
    "denoising": {},
}

#: The first solution (eglass.explore.starting_points's method) -> its options.
INVERSION_SETTINGS: dict[str, Feeds] = {
    "iagan": {"restarts": "restarts", "steps": "steps", "finetune_steps": "finetune_steps"},
    "fast": {"steps": "steps", "finetune_steps": _fast_finetune},
}
INVERSIONS = tuple(INVERSION_SETTINGS)

#: The methods of eglass.methods a batch run can use -> their settings.
METHOD_SETTINGS: dict[str, Feeds] = {
    "eglass": {"Ks": "Ks", "etas": "etas", "tau": "tau"},
    "walk": {"Ks": "Ks", "etas": "etas", "tau": "tau", "walk": _walk},
    "pulse": {"n": "pulse_n", "steps": "pulse_steps", "seed": _method_seed},
}
BATCH_METHODS = tuple(METHOD_SETTINGS)


def _default_prior() -> str:
    return default_prior().name


@dataclass(frozen=True)
class BatchConfig:
    """Everything that decides a batch run's results (the store records it; a re-run with a
    different one is refused).

    Attributes:
        operator: a name of :data:`eglass.operators.registry.OPERATORS`: ``"sr"``
            (``factor``), ``"inpainting"`` (centred ``box`` x ``box`` hole), ``"blur"``
            (Gaussian ``blur_size``, ``blur_sigma``), ``"cs"`` (``cs_m`` Gaussian
            measurements, matrix seed ``operator_seed``), ``"denoising"``
            (:data:`OPERATOR_OPTIONS`).
        noise: standard deviation of Gaussian measurement noise on the [-1, 1] scale, drawn
            per item from :func:`item_seed`; 0: noiseless.
        data: ``"prior"`` (the prior's own held-out data set, ``prior.data("test")``,
            interleaved by class: item ``i`` is the ``i // k``-th held-out image of class
            ``i % k``; for a prior without a data set, its samples), ``"samples"`` (truths
            :math:`G(z^*)` of the prior from seeds no other part uses, one per item), a
            folder of ``.png`` files of the prior's image size (sorted by name), a ``.npy``
            file or a Zarr array ``(N, H, W)`` / ``(N, C, H, W)``.
        data_kind: ``"images"`` (measured here with the operator) or ``"measurements"`` (the
            ``y`` themselves, made by ``operator``; no ground truth).
        count: number of items (``None``: all of the data); start: first item.
        prior: any reference of :func:`eglass.priors.get_prior`: a registered name (default
            the registered default, ``"mnist-dcgan"``), ``"pggan:PATH"``,
            ``"biggan:FOLDER?class=207"``, or the path of a
            :func:`eglass.checkpoints.save_checkpoint` file. prior_sha256: the SHA-256 its
            weights file must have (optional: the store records the file's digest either
            way, and a resumed run refuses a file that changed).
        methods: any of :data:`BATCH_METHODS` (:data:`METHOD_SETTINGS`).
        inversion: the first solution: ``"iagan"`` (:func:`eglass.inversion.invert`, budget
            ``restarts``, ``steps``, ``finetune_steps``) or ``"fast"``
            (:func:`eglass.inversion.fast_start`: the prior's encoder's guess, one Gaussian
            start for a prior without one, refined at most ``steps`` latent and
            ``finetune_steps`` fine-tuning steps, the full inversion where that falls short).
        restarts, steps, finetune_steps: IAGAN budget (:func:`eglass.inversion.invert`).
        Ks, etas: e-GLASS directions and steps (:func:`eglass.explore.explore`); ``etas``
            ``None`` (default): resolved for the prior (:func:`eglass.settings.resolve`: the
            prior's defaults, e.g. ``faces-dcgan64``'s, else the method's
            ``(-3, -1.5, 1.5, 3)``). A method field left ``None`` is not passed to the
            method: the resolution supplies it (so does it the prior's ``top``).
        walk_steps: steps of each walk (:class:`eglass.walk.WalkSettings`).
        pulse_n, pulse_steps: PULSE restarts and steps (:func:`eglass.baselines.pulse`).
        tau: feasibility level of every method's solutions; ``None`` (default): the level
            the noise sets where ``noise`` > 0 (:func:`eglass.evaluate.noise_tau`, the
            discrepancy principle), else ``1e-2``.
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
    data: str = PRIOR_DATA
    data_kind: str = "images"
    count: int | None = 20
    start: int = 0
    prior: str = field(default_factory=_default_prior)
    prior_sha256: str | None = None
    methods: tuple[str, ...] = ("eglass",)
    inversion: str = "iagan"
    restarts: int = 4
    steps: int = 300
    finetune_steps: int = 300
    Ks: tuple[int, ...] = (4, 6, 8)
    etas: tuple[float, ...] | None = None
    walk_steps: int = 16
    pulse_n: int = 8
    pulse_steps: int = 100
    tau: float | None = None
    seed: int = 0
    store: str = "eglass-run.zarr"

    def __post_init__(self):
        set_ = object.__setattr__
        for name in ("data", "store"):  # a pathlib.Path is a path too: kept as its str
            path = getattr(self, name)
            if not isinstance(path, str | os.PathLike):
                raise TypeError(f"{name} must be a path (a str or os.PathLike), got "
                                f"{type(path).__name__} {path!r}")
            set_(self, name, os.fspath(path))
        set_(self, "methods", tuple(_listed("methods", self.methods)))
        set_(self, "Ks", tuple(check_positive_int(f"Ks[{i}]", k)
                               for i, k in enumerate(_listed("Ks", self.Ks))))
        if self.etas is not None:
            set_(self, "etas", tuple(check_number(f"etas[{i}]", e)
                                     for i, e in enumerate(_listed("etas", self.etas))))
        check_one_of("operator", self.operator, tuple(OPERATORS))  # the registry's names
        check_one_of("inversion", self.inversion, INVERSIONS)
        check_one_of("data_kind", self.data_kind, DATA_KINDS)
        bad = [m for m in self.methods if m not in BATCH_METHODS]
        if bad or not self.methods:
            raise ValueError(f"methods must be a non-empty subset of {BATCH_METHODS}, "
                             f"got {list(self.methods)}")
        for name in ("factor", "box", "blur_size", "cs_m", "restarts", "steps", "finetune_steps",
                     "walk_steps", "pulse_n", "pulse_steps"):
            set_(self, name, check_positive_int(name, getattr(self, name)))
        for name in ("start", "seed", "operator_seed"):
            set_(self, name, check_positive_int(name, getattr(self, name), minimum=0))
        if self.count is not None:
            set_(self, "count", check_positive_int("count", self.count))
        set_(self, "noise", check_number("noise", self.noise, minimum=0))
        set_(self, "blur_sigma", check_number("blur_sigma", self.blur_sigma, positive=True))
        if self.tau is not None:
            set_(self, "tau", check_number("tau", self.tau, positive=True))
        if not self.Ks:
            raise ValueError(f"Ks must be non-empty 1-based indices, got {list(self.Ks)}")
        if self.etas is not None and not self.etas:
            raise ValueError("etas must hold at least one step")
        if not isinstance(self.prior, str) or not self.prior:
            raise ValueError(f"prior must name a prior (eglass priors lists them), got "
                             f"{self.prior!r}")

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


def _listed(name: str, values) -> list:
    """``values`` as a list, or a ValueError: a list is expected (a TOML array, a comma-separated
    option), not a string or a single value."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list (a TOML array, comma-separated on the "
                         f"command line), got {values!r}")
    return list(values)


def check_prior_fits(config: BatchConfig, prior) -> None:
    """The checks of ``config`` that need its prior: every K within the latent size (a
    ValueError naming K and the size)."""
    d = prior.latent_dim
    if max(config.Ks) > d:
        raise ValueError(f"Ks must be at most the latent size {d} of prior {config.prior!r} "
                         f"(K-th eigenvector of a {d}x{d} metric), got {list(config.Ks)}")


def item_seed(seed: int, index: int) -> int:
    """The seed of item ``index`` in a run seeded ``seed``: a function of the two only
    (``numpy.random.SeedSequence([seed, index])``), never of the worker or the order.

    >>> item_seed(0, 3) == item_seed(0, 3) != item_seed(0, 4)
    True
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint32)[0])


def _values(feeds: Feeds, config: BatchConfig, seed: int) -> dict:
    return {name: source(config, seed) if callable(source) else getattr(config, source)
            for name, source in feeds.items()}


def operator_options(config: BatchConfig) -> dict:
    """The options of ``config.operator`` from the config's fields (:data:`OPERATOR_OPTIONS`)."""
    return {option: getattr(config, name)
            for option, name in OPERATOR_OPTIONS.get(config.operator, {}).items()}


def make_operator(config: BatchConfig, image_shape: Sequence[int] | None = None):
    """The operator of ``config`` for images ``(C, H, W)`` (default: the prior's image
    shape), from :func:`eglass.operators.registry.make_operator`."""
    if image_shape is None:
        with torch.random.fork_rng(devices=[]):  # a first read may load the generator
            image_shape = get_prior(config.prior).image_shape
    return build_operator(config.operator, tuple(image_shape), **operator_options(config))


def inversion_settings(config: BatchConfig, seed: int) -> dict:
    """The options of :func:`eglass.explore.starting_points` for ``config.inversion``
    (:data:`INVERSION_SETTINGS`), the noise level and ``seed`` included."""
    return dict(_values(INVERSION_SETTINGS[config.inversion], config, seed),
                noise_sigma=config.noise or None, seed=seed)


def method_settings(config: BatchConfig, name: str, seed: int, defaults: dict | None = None
                    ) -> dict:
    """The settings of method ``name`` that the config gives for an item seeded ``seed``:
    its fields of :data:`METHOD_SETTINGS` that are not ``None`` (the user's options of
    :func:`eglass.methods.run`, which resolves the rest: the prior's defaults, then the
    method's, :func:`eglass.settings.resolve`). ``defaults``: settings placed under the
    config's (older callers passed the prior's here; the resolution now supplies them)."""
    from ..methods import get_method

    takes = {f.name for f in dataclasses.fields(get_method(name).settings)}
    given = {k: v for k, v in (defaults or {}).items() if k in takes}
    values = _values(METHOD_SETTINGS[name], config, seed)
    return {**given, **{k: v for k, v in values.items() if v is not None}}

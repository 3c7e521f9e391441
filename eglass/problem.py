r"""The inverse problem :math:`y = A G(z)`: one object that owns the map :math:`A \circ G`.

An :class:`InverseProblem` holds a generator :math:`G` (any ``nn.Module`` with an integer
``latent_dim``), a linear operator :math:`A`, measurements :math:`y` and, optionally, a
perceptual distance. It checks them once, and every part of eglass -- inversion, the metrics,
the directions, the walk, PULSE, Langevin, the explorer -- reads :math:`\phi = A \circ G`
(:meth:`InverseProblem.measure`), the feature map :math:`F \circ G`
(:meth:`InverseProblem.features`) and the measurement error (:meth:`InverseProblem.error`)
from it, so that they are written once.

>>> import torch
>>> from eglass import models, operators
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> x = G(torch.zeros(1, 64))
>>> problem = InverseProblem(G, A, A(x))
>>> problem
InverseProblem(Generator, SuperResolution(factor=8, kernel='box'), y (1,1,4,4), no distance)
>>> problem.latent_error(torch.zeros(1, 64))
tensor([0.])
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from .deepinv_ops import as_operator
from .evaluate import TAU, measurement_error, residual_error
from .utils import check_finite, check_generator, format_shape

__all__ = ["InverseProblem", "accepts_problem"]


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
            ``distance(x0, x1) -> (N,)``; ``None``: no perceptual side.

    Raises:
        TypeError / ValueError: a generator without ``latent_dim`` or whose ``latent_dim``
            disagrees with its input layer, one in training mode, non-finite ``y``, ``y``
            not shaped like ``A(G(z))``, an operator that cannot take ``G``'s images, a
            distance that is not callable (e.g. the string ``"lpips"``).
    """

    generator: nn.Module
    operator: Callable | None = None
    y: torch.Tensor | None = None
    distance: Callable | None = None

    def __post_init__(self):
        # The one place eglass converts an operator it is handed (a deepinv physics).
        object.__setattr__(self, "operator", as_operator(self.operator))
        dim = check_generator(self.generator)
        _check_eval_mode(self.generator)
        x = _probe(self.generator, dim)
        if self.operator is not None:
            measured = _apply(self.operator, x)
            if self.y is not None:
                _check_measurements(self.y, measured, x)
        elif self.y is not None:
            raise ValueError("y was given without an operator; pass operator= as well")
        if self.distance is not None and not callable(self.distance):
            raise TypeError(
                "distance must be an eglass.distances.Distance (e.g. LPIPS('alex') or "
                f"default_distance()) or a callable (x0, x1) -> (N,), got "
                f"{type(self.distance).__name__} {self.distance!r}"
            )

    # ----------------------------------------------------------------- what it is made of

    @property
    def latent_dim(self) -> int:
        """``d``, the generator's latent dimension."""
        return self.generator.latent_dim

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
        dist = "no distance" if self.distance is None else type(self.distance).__name__
        return f"InverseProblem({type(self.generator).__name__}, {op}, {y}, {dist})"

    def with_generator(self, generator: nn.Module) -> InverseProblem:
        """The same problem on another generator (e.g. IAGAN's fine-tuned copy)."""
        return replace(self, generator=generator)

    def with_distance(self, distance: Callable | None) -> InverseProblem:
        """The same problem with another perceptual distance."""
        return replace(self, distance=distance)

    def measurement(self, i: int) -> InverseProblem:
        """The problem of measurement ``i`` alone (``y[i:i+1]``)."""
        if not -self.n <= i < self.n:
            raise IndexError(f"measurement index {i} out of range for {self.n} measurement(s)")
        i = i % self.n
        return replace(self, y=self._y[i : i + 1])

    # ----------------------------------------------------------------- the maps

    def measure(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\phi(z) = A(G(z))` for latents ``(N, d)``: the one place eglass composes
        the operator with the generator."""
        return self._operator(self.generator(z))

    def features(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`F(G(z))`, the distance's scaled feature vector ``(N, P)`` of ``G(z)``, whose
        squared differences sum to the distance (:mod:`eglass.distances`)."""
        return self.feature_map(self.generator(z))

    @property
    def feature_map(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The distance's ``flat_features`` (images -> ``(N, P)``)."""
        flat = getattr(self.distance, "flat_features", None)
        if flat is None:
            got = "none" if self.distance is None else type(self.distance).__name__
            raise TypeError(
                "the perceptual metric needs an eglass.distances.Distance (with features(x)), "
                f"got {got}; pass distance= (e.g. eglass.distances.default_distance())"
            )
        return flat

    def generate(self, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Images ``G(z)`` ``(N, C, H, W)`` without gradients, ``batch_size`` latents a pass."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
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
        return measurement_error(self._operator, x, self._y)

    def latent_error(self, z: torch.Tensor) -> torch.Tensor:
        """Measurement error of ``G(z)`` for latents ``(N, d)``, ``(N,)``, from
        :meth:`residual`."""
        with torch.no_grad():
            return residual_error(self.residual(z))

    def feasible(self, x: torch.Tensor, tau: float = TAU) -> torch.Tensor:
        """Boolean ``(N,)``: which images have :meth:`error` ``<= tau``."""
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau}")
        return self.error(x) <= tau

    def pseudo_inverse(self) -> torch.Tensor:
        r""":math:`A^\dagger y`, what the measurements alone say about the image."""
        dagger = getattr(self._operator, "A_dagger", None)
        if not callable(dagger):
            raise TypeError(f"{type(self.operator).__name__} has no A_dagger(y)")
        return dagger(self._y)

    # ----------------------------------------------------------------- checks

    def require_one(self, what: str) -> InverseProblem:
        """Check that the problem holds exactly one measurement (what ``what`` explores or
        samples) and that the generator is still in eval mode; return the problem."""
        _check_eval_mode(self.generator)
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
    def _operator(self) -> Callable:
        if self.operator is None:
            raise TypeError("this InverseProblem has no operator; pass operator=")
        return self.operator

    @property
    def _y(self) -> torch.Tensor:
        if self.y is None:
            raise TypeError("this InverseProblem has no measurements; pass y=")
        return self.y


def _check_eval_mode(G: nn.Module) -> None:
    stateful = [name or type(G).__name__ for name, m in G.named_modules()
                if m.training and isinstance(m, nn.modules.batchnorm._BatchNorm | nn.Dropout)]
    if stateful:
        raise ValueError(
            f"the generator has batch-norm/dropout layers in training mode ({stateful[:3]}); "
            "e-GLASS needs the deterministic generator, so eglass never switches your model: "
            "call G.eval() first (in training mode BatchNorm would also mix the latents of a "
            "batch and change its running statistics)"
        )


def _probe(G: nn.Module, dim: int) -> torch.Tensor:
    """``G(0)`` for one latent: catches a ``latent_dim`` that disagrees with the input layer."""
    param = next(iter(G.parameters()), None)
    kind = {} if param is None else dict(dtype=param.dtype, device=param.device)
    try:
        with torch.no_grad():
            x = G(torch.zeros(1, dim, **kind))
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise ValueError(
            f"generator {type(G).__name__} says latent_dim={dim} but fails on latents of "
            f"shape (1,{dim}): {err}. Does latent_dim match its input layer?"
        ) from err
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        got = format_shape(x) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"generator {type(G).__name__} must map (1,{dim}) latents to images "
                         f"(1,C,H,W), got {got}")
    return x


def _apply(A: Callable, x: torch.Tensor) -> torch.Tensor:
    try:
        with torch.no_grad():
            return A(x)
    except (RuntimeError, ValueError, TypeError) as err:
        raise ValueError(f"the operator {type(A).__name__} cannot be applied to this "
                         f"generator's images of shape {format_shape(x)}: {err}") from err


def _check_measurements(y: torch.Tensor, measured: torch.Tensor, x: torch.Tensor) -> None:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of measurements (N,...), "
                        f"got {type(y).__name__}")
    check_finite("y", y)
    want = format_shape(measured, batch="N")
    if y.ndim != measured.ndim or y.shape[1:] != measured.shape[1:] or y.shape[0] < 1:
        raise ValueError(f"y has shape {format_shape(y)} but A(G(z)) for "
                         f"{format_shape(x[0])} images has shape {want}; expected {want} "
                         "with N >= 1")


_LEGACY_NAMES = {"A": "operator", "y": "y", "distance": "distance", "dist": "distance"}


def accepts_problem(*parts: str):
    """Let ``fn(problem, ...)`` also be called the older way, ``fn(G, *parts, ...)``.

    ``parts`` names what followed the generator (``"A"``, ``"y"``, ``"distance"``); they may
    be given positionally or by those names. A keyword ``distance=`` the function does not
    take goes into the problem too. The wrapped function always receives an
    :class:`InverseProblem` (after ``self`` for a method such as ``__init__``).
    """

    def wrap(fn):
        names = list(inspect.signature(fn).parameters)
        skip = 1 if names[0] == "self" else 0
        takes_distance = "distance" in names

        @functools.wraps(fn)
        def call(*args, **kwargs):
            head, (first, *args) = args[:skip], args[skip:]
            extra = {} if takes_distance or "distance" not in kwargs else {
                "distance": kwargs.pop("distance")}
            if isinstance(first, InverseProblem):
                if "distance" in extra:
                    first = first.with_distance(extra["distance"])
                return fn(*head, first, *args, **kwargs)
            given = dict(zip(parts, args, strict=False))
            args = args[len(given):]
            for name in parts[len(given):]:
                if name in kwargs:
                    given[name] = kwargs.pop(name)
            missing = [name for name in parts if name not in given]
            if missing:
                raise TypeError(f"{fn.__qualname__}() takes an InverseProblem, or a generator "
                                f"followed by {', '.join(parts)}; missing {missing}")
            fields = {_LEGACY_NAMES[name]: value for name, value in given.items()}
            problem = InverseProblem(first, **{**fields, **extra})
            return fn(*head, problem, *args, **kwargs)

        return call

    return wrap

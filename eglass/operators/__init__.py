r"""Linear forward models :math:`y = A x + n` (Eq. 1 of the e-GLASS paper).

Every operator is a :class:`LinearOperator` (an ``nn.Module`` whose parameters are buffers)
acting on image batches ``x`` of shape ``(N, C, H, W)``:

- ``A(x)`` (also ``op(x)``): the measurements :math:`A x`;
- ``A_adjoint(y)``: :math:`A^\top y`, exact (the dot test :math:`\langle Ax, y\rangle =
  \langle x, A^\top y\rangle` holds to rounding);
- ``A_dagger(y)``: the Moore--Penrose pseudo-inverse :math:`A^\dagger y`, in closed form for
  every built-in operator, otherwise by CGLS (see :meth:`LinearOperator.A_dagger`);
- ``range_project(x)`` :math:`= A^\dagger A x` and ``null_project(x)`` :math:`= x - A^\dagger
  A x`: the split of an image into the part the measurements see and the part they do not;
- ``measurement_shape(image_shape)``; ``rank(image_shape)`` (exact, for small images).

Calls are pure functions of their input (no in-place ops, no side effects on the operator,
buffers cast to the input's dtype and device), so ``torch.func.jvp``/``vmap`` and autograd go
through them. Noise is separate from ``A``: ``y = add_noise(A(x), sigma, seed)``.

A DeepInverse ``LinearPhysics`` becomes one with :func:`from_deepinv` (optional extra
``eglass[deepinv]``; :mod:`eglass.operators.deepinv`), and every eglass entry point that takes an
operator also takes the physics itself (:func:`as_operator`).

To use your own linear model, subclass :class:`LinearOperator` and implement ``_A`` and
``_A_adjoint``; ``A_dagger`` then falls back to CGLS.

Operators by name (:mod:`eglass.operators.registry`): ``make_operator("sr", (1, 32, 32),
factor=4)``; :data:`OPERATORS` holds the names ``"sr"``, ``"inpainting"``, ``"blur"``,
``"cs"`` and ``"denoising"`` with their options and defaults.

One module per idea: :mod:`~eglass.operators.base` (:class:`LinearOperator` and the helpers
the operators share), :mod:`~eglass.operators.denoising`,
:mod:`~eglass.operators.super_resolution`, :mod:`~eglass.operators.inpainting` (with the
masks), :mod:`~eglass.operators.blur` (with :func:`gaussian_kernel`),
:mod:`~eglass.operators.compressed_sensing`, :mod:`~eglass.operators.noise`
(:func:`add_noise`), :mod:`~eglass.operators.testing` (:func:`dot_test`),
:mod:`~eglass.operators.deepinv` (the DeepInverse wrapper; deepinv itself is imported only
when a physics is wrapped) and :mod:`~eglass.operators.registry`.
"""

from __future__ import annotations

from . import registry
from .base import LinearOperator, Shape, is_transformed
from .blur import Blur, gaussian_kernel
from .compressed_sensing import CompressedSensing
from .deepinv import DeepInvOperator, as_operator, from_deepinv, is_deepinv_physics
from .denoising import Denoising
from .inpainting import Inpainting, box_mask, half_mask, random_mask
from .noise import add_noise
from .registry import *  # noqa: F403 (the registry's API: OPERATORS, make_operator, ...)
from .super_resolution import SuperResolution
from .testing import dot_test

__all__ = [
    "LinearOperator",
    "Denoising",
    "SuperResolution",
    "Inpainting",
    "Blur",
    "CompressedSensing",
    "box_mask",
    "half_mask",
    "random_mask",
    "gaussian_kernel",
    "add_noise",
    "dot_test",
    "from_deepinv",
    "as_operator",
    "DeepInvOperator",
    "is_deepinv_physics",
    "is_transformed",
    "Shape",
    *registry.__all__,
]

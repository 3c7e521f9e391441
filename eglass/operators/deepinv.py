r"""DeepInverse forward models as eglass operators: :func:`from_deepinv` and :func:`as_operator`.

DeepInverse (Tachella et al., 2025; ``deepinv`` on PyPI) holds a forward model as a
``deepinv.physics.LinearPhysics`` with ``A``, ``A_adjoint`` and ``A_dagger``.
:func:`from_deepinv` wraps one as an eglass :class:`~eglass.operators.LinearOperator`, so that
it goes wherever an eglass operator goes; :func:`as_operator` is the one place where eglass
turns a physics it is handed into that wrapper (:class:`eglass.problem.InverseProblem` calls
it, so inversion, the metrics, the directions, the walk, PULSE and the explorer all accept the
physics itself).

What the wrapper uses of the physics:

- ``A(x)`` is ``physics.A(x)``, the noise-free forward model (a physics' ``__call__`` adds its
  noise model; eglass keeps noise separate, :func:`eglass.operators.add_noise`).
- ``A_adjoint(y)`` is ``physics.A_adjoint(y)``.
- ``A_dagger(y)``: for a ``DecomposablePhysics`` :math:`A = U \operatorname{diag}(s) V^\top`
  the exact :math:`V \operatorname{diag}(s^+) U^\top y`, with singular values
  :math:`s \le \mathrm{rtol} \max s` treated as 0 (``rtol`` = number of singular values times
  the dtype's machine epsilon, ``torch.linalg.pinv``'s rule; deepinv's own cutoff is the
  absolute :math:`10^{-5}`); for a physics that defines its own closed form (e.g.
  ``CompressedSensing``) that closed form; otherwise eglass' CGLS, which converges to the
  minimum-norm least-squares solution (deepinv's default is 50 CG iterations to
  :math:`10^{-4}`, and it writes its solver settings back into the physics).
- ``measurement_shape`` / ``image_shape``: read off ``physics.A`` / ``physics.A_adjoint`` on a
  zero tensor (once per shape).
- When wrapping, the checks eglass' own operators make: the physics' tensors are finite (a
  NaN mask or filter is refused), and its ``mask`` (singular values) or ``filter`` is not all
  zero (an operator that measures nothing is refused, as :class:`~eglass.operators.Inpainting`
  refuses a mask observing no pixel); again at the next use whenever its tensors changed
  (``physics.update_parameters(mask=...)``, an in-place edit).

The CGLS fallback stops after ``cgls_max_iter`` (500) iterations; for an ill-conditioned
physics without a closed form (deepinv's convolutional ``Blur`` with a Gaussian of
:math:`\sigma = 1.5`) it has not reached :math:`A^\dagger y` by then (0.4--0.6 relative to
the exact one): use the physics' SVD form (``BlurFFT``) or our :class:`~eglass.operators.Blur`.

Why eglass keeps its own operators rather than becoming thin wrappers over deepinv's where the
two coincide (box down-sampling, circular blur, inpainting, compressed sensing --
``tests/test_deepinv.py`` checks that they agree to rounding): deepinv is an optional extra
(``pip install -e ".[deepinv]"`` from a checkout) and eglass must work without it; and the
speed does not ask for it (``benchmarks/deepinv_ops.py``, forward + adjoint, float32, one
thread, on a shared 2-core machine, so within a factor of about 2): our box SR is 8.9x
(16 x 1 x 32 x 32) to 30x (3 x 256 x 256) faster than deepinv's ``Downsampling`` with a box
filter (average pooling against a convolution then sub-sampling); compressed sensing costs
the same (deepinv takes 0.86x our time); deepinv's ``BlurFFT`` takes 0.60x to 0.26x the time
of our ``Blur``, which recomputes the kernel's spectrum on every call (caching it would close
that gap), and our ``Blur`` is 1.14x to 1.19x faster than deepinv's convolutional ``Blur``.
eglass' input checks (shapes, finite values) cost more than inpainting itself (deepinv's
takes 0.10x our time); a wrapped physics pays them too.

>>> import deepinv
>>> op = from_deepinv(deepinv.physics.Inpainting((1, 4, 4), mask=torch.ones(1, 4, 4)))
>>> op
from_deepinv(Inpainting)
>>> op.measurement_shape((2, 1, 4, 4))
(2, 1, 4, 4)
"""

from __future__ import annotations

import copy
import sys

import torch

from ..utils import check_finite, format_shape
from .base import LinearOperator, Shape

__all__ = ["DeepInvOperator", "from_deepinv", "as_operator", "is_deepinv_physics"]

_EXTRA = "pip install -e '.[deepinv]' from a checkout of eglass (or pip install deepinv)"


def _deepinv():
    try:
        import deepinv
    except ImportError as err:
        raise ImportError(
            f"eglass.operators.from_deepinv needs the deepinv package, which is not installed; "
            f"install the optional extra: {_EXTRA}"
        ) from err
    return deepinv


def is_deepinv_physics(op) -> bool:
    """True if ``op`` is a ``deepinv.physics.Physics`` (without importing deepinv: an object
    of a deepinv class means deepinv is already imported)."""
    deepinv = sys.modules.get("deepinv")
    return deepinv is not None and isinstance(op, deepinv.physics.Physics)


class DeepInvOperator(LinearOperator):
    r"""An eglass :class:`~eglass.operators.LinearOperator` that wraps a deepinv
    ``LinearPhysics`` (build it with :func:`from_deepinv`); see the module docstring for
    what it uses of the physics. The physics is a submodule, so ``.to(device)`` moves it."""

    def __init__(self, physics):
        super().__init__()
        deepinv = _deepinv()
        if not isinstance(physics, deepinv.physics.LinearPhysics):
            kind = (
                "a non-linear deepinv Physics"
                if isinstance(physics, deepinv.physics.Physics)
                else "not a deepinv physics"
            )
            raise TypeError(
                "from_deepinv expects a deepinv.physics.LinearPhysics (e.g. Downsampling, "
                f"Inpainting, BlurFFT, CompressedSensing), got {type(physics).__name__}, "
                f"{kind}; e-GLASS needs a linear forward model"
            )
        _check_physics(physics)
        self.physics = physics
        self._checked = _tensors(physics)
        self._decomposable = isinstance(physics, deepinv.physics.DecomposablePhysics)
        generic = type(physics).A_dagger is deepinv.physics.LinearPhysics.A_dagger
        self._closed_form = not self._decomposable and not generic
        self._shapes: dict[tuple[str, tuple[int, ...]], tuple[int, ...]] = {}
        self._copies: dict[tuple[torch.dtype, torch.device], object] = {}

    def __repr__(self) -> str:
        return f"from_deepinv({type(self.physics).__name__})"

    def _current(self):
        """The physics, checked again (and the shapes and dtype copies made of it dropped)
        if its tensors changed since they were last checked: deepinv physics are mutable
        (``physics.update_parameters(mask=...)``, ``physics.A(x, mask=...)``, in place)."""
        state = _tensors(self.physics)
        if state != self._checked:
            _check_physics(self.physics)
            self._checked = state
            self._shapes.clear()
            self._copies.clear()
        return self.physics

    # -- shapes -------------------------------------------------------------------------------
    def _probe_kind(self) -> dict:
        buffer = next(
            (b for b in self.physics.buffers() if b.is_floating_point() and b.ndim > 0), None
        )
        if buffer is None:
            return {"dtype": torch.get_default_dtype()}
        return {"dtype": buffer.dtype, "device": buffer.device}

    def _probe(self, which: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        key = (which, shape)
        if key not in self._shapes:
            fn = self.physics.A if which == "A" else self.physics.A_adjoint
            with torch.no_grad():
                out = fn(torch.zeros((1, *shape), **self._probe_kind()))
            self._shapes[key] = tuple(out.shape[1:])
        return self._shapes[key]

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        image_shape = self._check_image_shape(image_shape)
        self._current()
        try:
            return (image_shape[0], *self._probe("A", tuple(image_shape[1:])))
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise ValueError(
                f"{self!r} cannot take images of shape {format_shape(image_shape, 'N')}: {err}"
            ) from err

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...]:
        shape = tuple(int(s) for s in measurement_shape)
        if len(shape) < 2:
            raise ValueError(f"y must have shape (N, ...), got {format_shape(shape)}")
        self._current()
        try:
            return (shape[0], *self._probe("A_adjoint", shape[1:]))
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise ValueError(
                f"{self!r} cannot take measurements of shape {format_shape(shape, 'N')}: {err}"
            ) from err

    # -- the maps -----------------------------------------------------------------------------
    def _for(self, t: torch.Tensor):
        """The physics in ``t``'s floating dtype: deepinv mixes no dtypes (a float32 filter
        refuses float64 images), so a tensor of another dtype than the physics' buffers
        meets a converted copy (made once per dtype and device; the user's physics is left
        as it is)."""
        physics, kind = self._current(), self._probe_kind()
        if kind["dtype"] == t.dtype or not kind["dtype"].is_floating_point:
            return physics
        key = (t.dtype, t.device)
        if key not in self._copies:
            twin = _cast(copy.deepcopy(self.physics), t.dtype, t.device)
            if isinstance(getattr(twin, "dtype", None), torch.dtype):
                twin.dtype = t.dtype  # e.g. CompressedSensing casts y to self.dtype
            self._copies[key] = twin
        return self._copies[key]

    def _A(self, x):
        return self._for(x).A(x).to(x.dtype)

    def _A_adjoint(self, y):
        return self._for(y).A_adjoint(y).to(y.dtype)

    def _A_dagger(self, y):
        if self._decomposable:
            return self._svd_dagger(y)
        if self._closed_form:
            return self._for(y).A_dagger(y).to(y.dtype)
        return self._cgls(y)

    def _svd_dagger(self, y):
        physics = self._for(y)
        s = physics.mask
        coefficients = physics.U_adjoint(y)
        if not isinstance(s, torch.Tensor):
            s = torch.tensor(float(s))
        s = s.to(device=coefficients.device)
        s = s.real.to(coefficients.dtype) if not s.is_complex() else s
        magnitude = s.abs()
        count = max(magnitude.numel(), coefficients[0].numel())
        rtol = count * torch.finfo(coefficients.real.dtype).eps
        keep = magnitude > rtol * magnitude.max()
        inverse = torch.where(keep, 1 / torch.where(keep, s, 1), 0)
        return physics.V(coefficients * inverse).to(y.dtype)


def _check_physics(physics) -> None:
    """The checks eglass' own operators make when they are built, on a physics: its tensors
    (its noise model aside, which eglass does not apply) hold finite values, and its ``mask``
    (a ``DecomposablePhysics``' singular values, e.g. ``Inpainting``'s mask) and ``filter``
    (``BlurFFT``, ``Blur``, ``Downsampling``) are not all zero, which would measure nothing."""
    name = type(physics).__name__
    for key, t in [*physics.named_buffers(), *physics.named_parameters()]:
        if not key.startswith("noise_model."):
            check_finite(f"{name}.{key}", t)
    for key in ("mask", "filter"):
        t = getattr(physics, key, None)
        if isinstance(t, torch.Tensor) and not bool((t != 0).any()):
            raise ValueError(
                f"{name}.{key} is all zero, so the {name} physics would measure nothing; "
                f"expected at least one non-zero entry, got all zeros of shape "
                f"{format_shape(t.shape)}"
            )


def _tensors(physics) -> tuple:
    """What identifies the physics' tensors now: each one's name, object and version (a
    replaced or in-place modified tensor changes it)."""
    return tuple((key, id(t), t._version)
                 for key, t in [*physics.named_buffers(), *physics.named_parameters()])


def _cast(module: torch.nn.Module, dtype: torch.dtype, device: torch.device):
    """``module`` with its real floating tensors in ``dtype`` and its complex ones in the
    matching complex dtype (``Module.to(dtype)`` would drop imaginary parts), on ``device``."""
    complex_dtype = (torch.zeros((), dtype=dtype) * 1j).dtype

    def convert(t: torch.Tensor) -> torch.Tensor:
        if t.is_complex():
            return t.to(device=device, dtype=complex_dtype)
        if t.is_floating_point():
            return t.to(device=device, dtype=dtype)
        return t.to(device=device)

    return module._apply(convert)


def from_deepinv(physics) -> DeepInvOperator:
    """Wrap a ``deepinv.physics.LinearPhysics`` as an eglass ``LinearOperator``.

    Raises ``ImportError`` naming the ``eglass[deepinv]`` extra when deepinv is missing, and
    ``TypeError`` for a non-linear physics or an object that is not a physics.

    >>> import deepinv
    >>> box = torch.ones(1, 1, 4, 4) / 16  # deepinv's 'valid' box filter is our box average
    >>> physics = deepinv.physics.Downsampling((1, 32, 32), filter=box, factor=4,
    ...                                        padding="valid")
    >>> x = torch.rand(2, 1, 32, 32)
    >>> from eglass.operators import SuperResolution
    >>> torch.allclose(from_deepinv(physics)(x), SuperResolution(4)(x))
    True
    """
    return DeepInvOperator(physics)


def as_operator(op):
    """``op`` ready for eglass: a deepinv physics becomes :func:`from_deepinv` of it (a
    non-linear one raises ``TypeError``); anything else (an eglass operator, ``None``, a
    callable) is returned unchanged."""
    if is_deepinv_physics(op):
        return from_deepinv(op)
    return op

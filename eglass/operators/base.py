r"""The base of every forward model: :class:`LinearOperator` (checks, projectors, rank and
the generic CGLS pseudo-inverse) and the helpers the operators share.

Subclasses implement ``_A`` and ``_A_adjoint`` (and, where there is one, a closed-form
``_A_dagger``); the public methods check their input and call these.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn

from ..utils import check_finite, format_shape

__all__ = ["LinearOperator", "Shape", "cast_like", "check_sigma", "is_transformed"]

Shape = Sequence[int]


def is_transformed(t: torch.Tensor) -> bool:
    """True inside ``torch.func`` transforms, where value checks (``.item()``) are skipped."""
    return torch._C._functorch.is_functorch_wrapped_tensor(t)


def cast_like(buffer: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``buffer`` on ``x``'s device in ``x``'s dtype (operators keep their buffers as built
    and meet each input where it is)."""
    return buffer.to(device=x.device, dtype=x.dtype)


def _batch_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).flatten(1).sum(dim=1)


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.ndim - 1)))


def check_sigma(sigma: float, *, positive: bool) -> float:
    """``sigma`` as a float; raise unless it is a finite number ``> 0`` (or ``>= 0``): a
    Python or numpy real or a one-element tensor (``TypeError`` for anything else). The one
    noise/kernel-width check (:func:`~eglass.operators.add_noise`,
    :func:`~eglass.operators.gaussian_kernel`)."""
    is_scalar_tensor = isinstance(sigma, torch.Tensor) and sigma.numel() == 1
    if isinstance(sigma, bool) or not (isinstance(sigma, numbers.Real) or is_scalar_tensor):
        raise TypeError(f"sigma must be a real number, got {type(sigma).__name__}")
    value = float(sigma)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"sigma must be a finite number {bound}, got {sigma}")
    return value


class LinearOperator(nn.Module):
    r"""Base class of the linear forward models :math:`x \mapsto A x`.

    Subclasses implement ``_A(x)`` and ``_A_adjoint(y)``; they may implement ``_A_dagger(y)``
    (closed-form pseudo-inverse), ``measurement_shape`` and ``image_shape``. The public
    methods check their input (shape, finite values) and then call these.

    >>> class Sum(LinearOperator):  # per-channel pixel sum of 4x4 images: (N,C,4,4) -> (N,C)
    ...     def _A(self, x):
    ...         return x.sum(dim=(2, 3))
    ...     def _A_adjoint(self, y):
    ...         return y[:, :, None, None].expand(-1, -1, 4, 4)
    >>> op = Sum()
    >>> op.A_dagger(torch.tensor([[16.0]]))[0, 0, 0]  # CGLS: the flat image, minimum norm
    tensor([1., 1., 1., 1.])
    >>> from eglass.operators import dot_test
    >>> dot_test(op, (2, 3, 4, 4)) < 1e-12
    True
    """

    #: CGLS settings of the generic pseudo-inverse (used when ``_A_dagger`` is not defined).
    cgls_max_iter: int = 500

    # -- subclass hooks -------------------------------------------------------------------
    def _A(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _A_dagger(self, y: torch.Tensor) -> torch.Tensor:
        return self._cgls(y)

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...] | None:
        """Image shape ``(N,C,H,W)`` that measurements of this shape come from (``None`` if
        the operator cannot tell); raises ``ValueError`` for measurements it cannot take."""
        return None

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        """Shape of ``A(x)`` for images ``x`` of shape ``image_shape = (N, C, H, W)``."""
        image_shape = self._check_image_shape(image_shape)
        probe = torch.zeros((1, *image_shape[1:]), dtype=torch.float64)
        return (image_shape[0], *self._A(probe).shape[1:])

    # -- public API -----------------------------------------------------------------------
    def A(self, x: torch.Tensor) -> torch.Tensor:
        r"""Measurements :math:`A x`. ``x``: images ``(N, C, H, W)``."""
        return self._A(self._check_x(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``op(x)`` is ``op.A(x)``."""
        return self.A(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        r"""Adjoint :math:`A^\top y`. ``y``: measurements, shape ``measurement_shape(...)``."""
        return self._A_adjoint(self._check_y(y))

    def A_dagger(self, y: torch.Tensor) -> torch.Tensor:
        r"""Moore--Penrose pseudo-inverse :math:`A^\dagger y` (minimum-norm least squares).

        Built-in operators use closed forms. The generic fallback is CGLS (conjugate
        gradients on the normal equations :math:`A^\top A x = A^\top y`) started at
        :math:`x = 0`, whose iterates stay in the range of :math:`A^\top` and therefore
        converge to :math:`A^\dagger y`; it stops when
        :math:`\|A^\top(y - Ax)\| \le \mathrm{rtol}\,\|A^\top y\|` for every sample (rtol
        :math:`10^{-12}` in float64, :math:`10^{-6}` otherwise) or after ``cgls_max_iter``.
        """
        return self._A_dagger(self._check_y(y))

    def range_project(self, x: torch.Tensor) -> torch.Tensor:
        r"""Orthogonal projection onto the row space, :math:`A^\dagger A x`, shape of ``x``."""
        return self._A_dagger(self._A(self._check_x(x)))

    def null_project(self, x: torch.Tensor) -> torch.Tensor:
        r"""Orthogonal projection onto the null space, :math:`x - A^\dagger A x`.

        ``A(null_project(x)) = 0``: this is the part of ``x`` the measurements cannot see.
        """
        x = self._check_x(x)
        return x - self._A_dagger(self._A(x))

    def rank(
        self, image_shape: Shape, *, dtype: torch.dtype = torch.float64, chunk: int = 1024
    ) -> int:
        r"""Rank of :math:`A` on single images of shape ``(C, H, W)`` (or ``(1, C, H, W)``).

        Computed exactly as the trace of the projector :math:`A^\dagger A` applied to the
        standard basis (``n = CHW`` basis images of ``dtype``, ``chunk`` at a time), so meant
        for small images. The null space has dimension ``n - rank``. ``dtype`` matters only
        where the pseudo-inverse's cutoff depends on it (:class:`Blur`).
        """
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 4 and shape[0] == 1:
            shape = shape[1:]
        if len(shape) != 3:
            raise ValueError(f"image_shape must be (C,H,W) or (1,C,H,W), got {shape}")
        n = math.prod(shape)
        device = next((b.device for b in self.buffers()), torch.device("cpu"))
        trace = 0.0
        for start in range(0, n, chunk):
            index = torch.arange(start, min(start + chunk, n), device=device)
            basis = torch.zeros(len(index), n, dtype=dtype, device=device)
            basis[torch.arange(len(index)), index] = 1
            projected = self.range_project(basis.view(-1, *shape))
            trace += projected.flatten(1)[torch.arange(len(index)), index].sum().item()
        return round(trace)

    # -- checks ---------------------------------------------------------------------------
    def _check_image_shape(self, image_shape: Shape) -> tuple[int, ...]:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 4 or shape[0] < 0 or min(shape[1:]) < 1:
            raise ValueError(
                "image_shape must be (N,C,H,W) with N >= 0 and positive C, H, W, got "
                f"{format_shape(shape)}"
            )
        return shape

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor (N,C,H,W), got {type(x).__name__}")
        if x.ndim != 4:
            raise ValueError(
                f"x must have shape (N,C,H,W), got {format_shape(x.shape)} for {self!r}"
            )
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        if type(self).measurement_shape is not LinearOperator.measurement_shape:
            self.measurement_shape(x.shape)  # raises for sizes this operator cannot take
        if not is_transformed(x):
            check_finite("x", x)
        return x

    def _check_y(self, y: torch.Tensor) -> torch.Tensor:
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if not y.is_floating_point():
            raise TypeError(f"y must be a floating-point tensor, got dtype {y.dtype}")
        self.image_shape(y.shape)  # raises for measurements this operator cannot take
        if not is_transformed(y):
            check_finite("y", y)
        return y

    # -- generic pseudo-inverse -------------------------------------------------------------
    def _cgls(self, y: torch.Tensor) -> torch.Tensor:
        rtol = 1e-12 if y.dtype == torch.float64 else 1e-6
        s = self._A_adjoint(y)
        x = torch.zeros_like(s)
        r, p = y, s
        gamma = _batch_dot(s, s)
        stop = rtol**2 * gamma
        for _ in range(self.cgls_max_iter):
            if bool((gamma <= stop).all()):
                break
            q = self._A(p)
            qq = _batch_dot(q, q)
            alpha = torch.where(qq > 0, gamma / torch.where(qq > 0, qq, 1), 0)
            x = x + _per_sample(alpha, x) * p
            r = r - _per_sample(alpha, r) * q
            s = self._A_adjoint(r)
            gamma_new = _batch_dot(s, s)
            beta = torch.where(gamma > 0, gamma_new / torch.where(gamma > 0, gamma, 1), 0)
            p = s + _per_sample(beta, p) * p
            gamma = gamma_new
        return x

r"""The one Jacobian helper of every metric: forward-mode pushforwards, reverse mode when there
are fewer outputs than latent dimensions, and the Gram :math:`J^\top J`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch

from ..utils import check_positive_int

__all__ = ["jacobian", "pushforward", "jvp", "gram", "check_chunk"]


def check_chunk(chunk_size) -> int | None:
    """``chunk_size`` as an ``int`` (a positive integer, numpy integers too), or ``None``."""
    return None if chunk_size is None else check_positive_int("chunk_size", chunk_size)


def jacobian(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Jacobian :math:`J = \partial \operatorname{vec} f / \partial z` with ``torch.func``.

    With :math:`P` outputs and :math:`d` latent dimensions: if :math:`d \le P` (the usual
    case: images, features) ``vmap`` over ``jvp`` pushes the :math:`d` unit tangents forward
    (one column each); if :math:`P < d` (few measurements, e.g. strong super-resolution)
    ``vmap`` over ``vjp`` pulls the :math:`P` unit cotangents back (one row each). ``chunk_size``
    vectors at a time (``None``: all at once; smaller bounds memory).

    Args:
        fn: a function of one latent ``(1, d)`` returning any tensor (``P`` entries in all).
        z: the latent ``(1, d)``.

    Returns:
        ``(P, d)`` tensor in the dtype of ``fn``'s output.
    """
    if z.ndim != 2 or z.shape[0] != 1:
        raise ValueError(f"z must have shape (1,d), got {tuple(z.shape)}")
    chunk_size = check_chunk(chunk_size)
    d = z.shape[1]
    with torch.no_grad():
        out_shape = fn(z).shape
    P = math.prod(out_shape)
    if P < d:  # reverse mode: one vector-Jacobian product per output entry
        _, pullback = torch.func.vjp(fn, z)
        cotangents = torch.eye(P, dtype=z.dtype, device=z.device).view(P, *out_shape)
        rows = torch.func.vmap(lambda u: pullback(u)[0], chunk_size=chunk_size)(cotangents)
        return rows.reshape(P, d).detach()
    tangents = torch.eye(d, dtype=z.dtype, device=z.device).unsqueeze(1)  # (d, 1, d)
    return pushforward(fn, z, tangents, chunk_size).reshape(d, -1).T


def pushforward(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tangents: torch.Tensor,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Jacobian-vector products :math:`J_f(x)\, v_k` for a batch of tangents, forward mode.

    Args:
        fn: a function of ``x`` returning any tensor.
        x: the point, any shape.
        tangents: ``(k, *x.shape)``, one tangent per row.
        chunk_size: tangents per vectorized pass (``None``: all at once).

    Returns:
        ``(k, *fn(x).shape)``.
    """
    if tangents.shape[1:] != x.shape:
        raise ValueError(
            f"tangents must have shape (k,{','.join(map(str, x.shape))}), "
            f"got {tuple(tangents.shape)}"
        )

    def column(v: torch.Tensor) -> torch.Tensor:
        return jvp(fn, x, v)

    with torch.no_grad():
        return torch.func.vmap(column, chunk_size=chunk_size)(tangents)


def jvp(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """``torch.func.jvp(fn, (x,), (v,))[1]``, without the deprecation warning torch raises the
    first time it compiles its own forward-mode rules (``torch.jit.script`` inside
    ``torch._decomp``): nothing a caller could act on, and it filled a stderr block in the
    book's chapters.

    >>> jvp(lambda x: 3 * x, torch.zeros(2), torch.ones(2)).tolist()
    [3.0, 3.0]
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", FutureWarning)
        return torch.func.jvp(fn, (x,), (v,))[1]


def gram(J: torch.Tensor) -> torch.Tensor:
    r"""The symmetrized Gram :math:`H = J^\top J` ``(d, d)`` of a Jacobian ``J`` ``(P, d)``.

    >>> gram(torch.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 2.0], [2.0, 4.0]]
    """
    H = J.T @ J
    return (H + H.T) / 2

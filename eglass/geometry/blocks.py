r"""Exact metrics a block of latent directions at a time: :math:`H_{:,B} = J^\top (J E_B)`, a
block of jvps then a block of vjps, never a full Jacobian in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .jacobian import check_chunk, pushforward

__all__ = ["chunked_gram", "block_grams", "GramBlocks"]


def chunked_gram(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    chunk_size: int = 8,
) -> torch.Tensor:
    r"""Exact :math:`H = J^\top J` of ``fn`` at ``z``, built ``chunk_size`` columns at a time.

    Column block :math:`B`: :math:`H_{:,B} = J^\top (J E_B)`, a vmapped chunk of jvps then a
    vmapped chunk of vjps, so peak memory is :math:`O(P \cdot \text{chunk\_size})` plus one
    backward pass's saved activations, never the full ``(P, d)`` Jacobian.

    Args:
        fn: a function of one latent ``(1, d)`` returning any tensor.
        z: the latent ``(1, d)``.
        chunk_size: columns per block (positive int).

    Returns:
        ``(d, d)`` symmetric tensor.

    >>> f = lambda z: torch.cat([z, 2 * z], dim=1)
    >>> chunked_gram(f, torch.zeros(1, 3), chunk_size=2).diagonal().tolist()
    [5.0, 5.0, 5.0]
    """
    if z.ndim != 2 or z.shape[0] != 1:
        raise ValueError(f"z must have shape (1,d), got {tuple(z.shape)}")
    if chunk_size is None:
        raise ValueError("chunk_size must be a positive int, got None")
    return block_grams(_identity, [fn], z, check_chunk(chunk_size))[0]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def block_grams(
    inner: Callable, outers: Sequence[Callable], z: torch.Tensor, chunk_size: int
) -> list[torch.Tensor]:
    r"""Exact Grams :math:`J_k^\top J_k` of every :math:`f_k = \text{outer}_k \circ
    \text{inner}`, ``chunk_size`` latent directions at a time (:class:`GramBlocks`)."""
    blocks = GramBlocks(inner, outers, z)
    columns = [blocks(start, start + chunk_size) for start in range(0, blocks.d, chunk_size)]
    grams = []
    for cols in zip(*columns, strict=True):
        H = torch.cat(cols).T
        grams.append((H + H.T) / 2)
    return grams


class GramBlocks:
    r"""Column blocks :math:`J_k^\top J_k E_B` of the Grams of :math:`\text{outer}_k \circ
    \text{inner}` at ``z``.

    The block of unit tangents goes through ``inner`` once (forward mode) and then through
    each outer map; each block of outputs comes back through that map's vjp and ``inner``'s
    vjp (closures built once). Peak memory: the saved activations of one backward pass of each
    map, plus the block's tangents of ``inner``'s and each outer map's output.
    """

    def __init__(self, inner: Callable, outers: Sequence[Callable], z: torch.Tensor):
        self.inner, self.outers, self.z, self.d = inner, list(outers), z, z.shape[1]
        x, self.pull_inner = torch.func.vjp(inner, z)
        self.x = x.detach()
        self.pulls = [torch.func.vjp(outer, self.x)[1] for outer in self.outers]

    def __call__(self, start: int, stop: int) -> list[torch.Tensor]:
        """``(stop - start, d)`` rows of each Gram: directions ``start ... stop - 1``."""
        eye = torch.eye(self.d, dtype=self.z.dtype, device=self.z.device)
        tangents = eye[start:stop].unsqueeze(1)  # (b, 1, d)
        inner_tangents = pushforward(self.inner, self.z, tangents)  # (b, *x.shape)
        rows = []
        for outer, pull in zip(self.outers, self.pulls, strict=True):
            outputs = pushforward(outer, self.x, inner_tangents)  # (b, *out)
            back = torch.func.vmap(lambda u, pull=pull: self.pull_inner(pull(u)[0])[0])(outputs)
            rows.append(back.reshape(-1, self.d).detach())
            del outputs, back
        return rows

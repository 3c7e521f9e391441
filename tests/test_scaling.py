"""Chunked exact metric: equals the unchunked J^T J (issue 17, part B)."""

import pytest
import torch

from eglass.geometry import _gram, chunked_gram, jacobian


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_chunked_gram_equals_full(chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    W1 = torch.randn(7, 20, generator=g, dtype=torch.float64)
    W2 = torch.randn(20, 50, generator=g, dtype=torch.float64)
    fn = lambda z: torch.tanh(z @ W1) @ W2  # noqa: E731
    z = torch.randn(1, 7, generator=g, dtype=torch.float64)
    H = chunked_gram(fn, z, chunk_size=chunk)
    H0 = _gram(jacobian(fn, z))
    assert torch.allclose(H, H0, rtol=1e-5, atol=1e-10 * H0.abs().max())


def test_chunked_gram_rejects_bad_chunk() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_gram(lambda z: z, torch.zeros(1, 2), chunk_size=0)

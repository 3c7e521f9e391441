"""Training the latent encoder of the fast start on generator samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..networks import LatentEncoder
from ..utils import check_generator, check_positive_int, make_generator


def train_encoder(
    G: nn.Module,
    operators: Sequence[Callable[[torch.Tensor], torch.Tensor]],
    *,
    samples: int = 10_000,
    steps: int = 1500,
    batch_size: int = 128,
    lr: float = 2e-3,
    width: int = 32,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    encoder: nn.Module | None = None,
) -> LatentEncoder:
    r"""Train a :class:`~eglass.models.LatentEncoder` to guess latents from measurements.

    ``samples`` latents :math:`z \sim N(0, I)` and their images :math:`G(z)` are drawn once;
    each step takes a batch of them, pushes it through the next operator of ``operators``
    (round robin) and back with the operator's pseudo-inverse, :math:`u = A^\dagger A G(z)`,
    and fits :math:`\|E(u) - z\|^2` (Adam, one-cycle learning rate peaking at ``lr``). Only
    generator samples are seen: no real image, so no held-out digit leaks into the guess.
    Deterministic for a given ``seed`` and thread count.

    Args:
        G: generator (eval mode) with ``latent_dim``.
        operators: linear operators with ``A_dagger`` (e.g. those of
            :func:`eglass.inversion.benchmark_problems`).
        samples, steps, batch_size, lr, width: the recipe (see ``scripts/train_prior.py``).
        seed: seed of the latents and of the batches; the weights' initialization uses it too.
        log: called with a progress line every 500 steps.
        encoder: the module to train instead of a new ``LatentEncoder(G.latent_dim, width,
            C)`` initialized from ``seed`` (e.g. one that takes larger images; ``width`` is
            then unused); trained in place and returned.

    >>> from eglass.models import Generator
    >>> from eglass.operators import SuperResolution
    >>> G = Generator(latent_dim=8, width=8).eval()
    >>> E = train_encoder(G, [SuperResolution(4)], samples=64, steps=3, batch_size=16, width=4)
    >>> tuple(E(torch.zeros(1, 1, 32, 32)).shape), E.training
    ((1, 8), False)
    """
    check_generator(G)
    operators = list(operators)
    if not operators:
        raise ValueError("train_encoder needs at least one operator")
    missing = [type(A).__name__ for A in operators if not callable(getattr(A, "A_dagger", None))]
    if missing:
        raise TypeError(f"every operator needs A_dagger (the encoder reads A^+ y); {missing} "
                        "have none")
    for name, value in (("samples", samples), ("steps", steps), ("batch_size", batch_size)):
        check_positive_int(name, value)
    gen = make_generator(seed)
    with torch.no_grad():
        z = torch.randn(samples, G.latent_dim, generator=gen)
        x = torch.cat([G(chunk) for chunk in z.split(500)])
    if encoder is None:
        with torch.random.fork_rng():  # the initialization from the seed, the caller's RNG intact
            torch.manual_seed(seed)
            encoder = LatentEncoder(G.latent_dim, width, x.shape[1])
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    encoder.train()
    for step in range(steps):
        index = torch.randint(0, samples, (batch_size,), generator=gen)
        A = operators[step % len(operators)]
        with torch.no_grad():
            u = A.A_dagger(A(x[index]))
        loss = (encoder(u) - z[index]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        if log is not None and step % 500 == 0:
            log(f"encoder step {step}: latent loss {loss.item():.3f}")
    encoder.eval()
    encoder.requires_grad_(False)
    return encoder

"""Training the latent encoder of the fast start on generator samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..evaluate import measurement_error
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
    Deterministic for a given ``seed`` and thread count on one CPU (another instruction set
    sums in another order: :func:`compare_encoders` says how far that moved it).

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


@dataclass(frozen=True)
class EncoderComparison:
    r"""How a retrained encoder compares with a reference one (e.g. the shipped weights).

    ``weight_drift``: per floating-point parameter or buffer, :math:`\|a - b\|_F / \|b\|_F`;
    ``guess_error``: per operator, the median measurement error
    (:func:`eglass.evaluate.measurement_error`) of the guess :math:`G(E(A^\dagger A x))` on the
    truths ``x``, as ``(trained, reference)``.
    """

    weight_drift: dict[str, float]
    guess_error: dict[str, tuple[float, float]]

    @property
    def max_drift(self) -> float:
        """The largest relative change of any tensor."""
        return max(self.weight_drift.values())

    @property
    def worst_ratio(self) -> float:
        """The largest ``max(a/b, b/a)`` of the guess errors over the operators (1 = equal)."""
        return max(max(a / b, b / a) for a, b in self.guess_error.values())


def compare_encoders(trained: nn.Module, reference: nn.Module, G: nn.Module,
                     operators: dict[str, Callable], x: torch.Tensor) -> EncoderComparison:
    r"""Compare two encoders of the same architecture: their weights and their guesses.

    Retraining an encoder on another CPU (other instruction sets, so other summation orders
    in the kernels) does not give the same bits after thousands of Adam steps; what must
    survive is that the weights stay close and that the guess fits the measurements as well.
    ``operators``: name -> operator with ``A_dagger``; ``x``: truths ``(N, C, H, W)``.

    >>> from eglass.models import Generator
    >>> from eglass.operators import SuperResolution
    >>> G = Generator(latent_dim=8, width=8).eval()
    >>> E = train_encoder(G, [SuperResolution(4)], samples=64, steps=3, batch_size=16, width=4)
    >>> c = compare_encoders(E, E, G, {"SR x4": SuperResolution(4)}, G(torch.randn(4, 8)))
    >>> c.max_drift, c.worst_ratio
    (0.0, 1.0)
    """
    a, b = trained.state_dict(), reference.state_dict()
    if a.keys() != b.keys():
        raise ValueError(f"the encoders differ in their tensors: {sorted(a.keys() ^ b.keys())}")
    drift = {name: ((a[name].double() - b[name].double()).norm()
                    / b[name].double().norm().clamp_min(1e-30)).item()
             for name in a if a[name].is_floating_point()}
    errors = {}
    with torch.no_grad():
        for name, A in operators.items():
            y = A(x)
            u = A.A_dagger(y)
            errors[name] = tuple(measurement_error(A, G(E(u)), y).median().item()
                                 for E in (trained, reference))
    return EncoderComparison(drift, errors)

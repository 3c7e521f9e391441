"""Training the DCGAN generator: hinge loss, DiffAugment, EMA weights with BatchNorm
statistics re-estimated at the end; sampling."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..networks import Discriminator, Generator
from ..utils import check_generator, check_images, make_generator
from .augment import diff_augment


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


@torch.no_grad()
def recalibrate_batchnorm(
    G: nn.Module, *, batches: int = 40, batch_size: int = 256, seed: int = 0
) -> nn.Module:
    """Re-estimate the BatchNorm running statistics of ``G`` on ``z ~ N(0, I)``.

    Needed after averaging weights (EMA): the running statistics collected while training
    belong to the raw weights. Uses the cumulative average over ``batches`` batches and
    returns ``G`` in eval mode (modified in place).
    """
    d = check_generator(G)
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return G.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    g = make_generator(seed)
    device = next(G.parameters()).device
    G.train()
    for _ in range(batches):
        G(torch.randn(batch_size, d, generator=g).to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    return G.eval()


def train_generator(
    images: torch.Tensor,
    *,
    steps: int,
    latent_dim: int = 64,
    width: int = 64,
    batch_size: int = 64,
    lr_g: float = 4e-4,
    lr_d: float = 4e-4,
    betas: tuple[float, float] = (0.0, 0.99),
    loss: str = "hinge",
    augment: Sequence[str] = ("translation",),
    ema_decay: float = 0.999,
    r1: float = 0.0,
    d_refine: bool = False,
    d_width: int | None = None,
    seed: int = 0,
    log_every: int = 0,
    log: Callable[[str], None] | None = None,
    callback: Callable[[int, Generator, Generator], None] | None = None,
    callback_every: int = 0,
    state_path: str | Path | None = None,
    state_every: int = 500,
) -> tuple[Generator, dict]:
    r"""Train a GAN on ``images`` and return the EMA generator (eval mode) and a history.

    Args:
        images: training images ``(N, 1, 32, 32)`` in [-1, 1].
        steps: discriminator + generator updates.
        loss: ``"hinge"`` (:math:`\max(0,1-D(x)) + \max(0,1+D(G(z)))`, generator
            :math:`-D(G(z))`) or ``"ns"`` (non-saturating logistic).
        augment: DiffAugment policy (empty for none), applied to every image D sees.
        ema_decay: decay of the generator weight average (0 disables the EMA).
        r1: weight :math:`\gamma` of the R1 penalty :math:`\frac{\gamma}{2}\|\nabla_x D(x)\|^2`
            on reals {cite}`mescheder2018r1` (0 disables it).
        d_refine: give the discriminator a 3x3 convolution after each strided one
            (:class:`~eglass.models.Discriminator` ``refine``).
        d_width: channel width of the discriminator (default: ``width``, as the generator).
        callback: called as ``callback(step, G_ema, G_raw)`` every ``callback_every`` steps
            with eval-mode copies of the averaged and of the raw generator (BatchNorm
            statistics re-estimated for both).
        state_path: if given, the full training state (networks, optimizers, random
            generator) is saved there every ``state_every`` steps, and a run started with an
            existing ``state_path`` resumes from it; a resumed run gives the same weights as
            an uninterrupted one. The trajectory does not depend on ``steps`` (no schedule),
            so ``steps=N`` reproduces step ``N`` of a longer run.

    Returns:
        ``(G, history)``; ``history`` has the per-step losses ``"d_loss"``, ``"g_loss"``.
    """
    check_images("images", images)
    if loss not in ("hinge", "ns"):
        raise ValueError(f"loss must be 'hinge' or 'ns', got {loss!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = images.device
    g = make_generator(seed)
    n = images.shape[0]
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # channels-last tensors: the oneDNN convolutions of both networks run ~1.4x faster
        # per step on the CPU (measured 0.18 against 0.25 s on 2 threads)
        cl = torch.channels_last
        G = Generator(latent_dim, width, images.shape[1]).to(device, memory_format=cl)
        D = Discriminator(width if d_width is None else d_width, images.shape[1], refine=d_refine)
        D = D.to(device, memory_format=cl)
        images = images.contiguous(memory_format=cl)
        G_ema = copy.deepcopy(G).requires_grad_(False)
        opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas)
        opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas)

        def snapshot(source: Generator) -> Generator:
            G_eval = copy.deepcopy(source).to(memory_format=torch.contiguous_format)
            return recalibrate_batchnorm(G_eval, seed=seed + 1)

        modules = {"G": G, "D": D, "G_ema": G_ema, "opt_g": opt_g, "opt_d": opt_d}
        first = 1
        if state_path is not None and Path(state_path).is_file():
            state = torch.load(state_path, map_location=device, weights_only=True)
            for key, module in modules.items():
                module.load_state_dict(state[key])
            g.set_state(state["rng"])
            history = {k: list(v) for k, v in state["history"].items()}
            first = int(state["step"]) + 1
            if log is not None:
                log(f"resumed from {state_path} at step {first - 1}")

        for step in range(first, steps + 1):
            real = images[torch.randint(0, n, (batch_size,), generator=g).to(device)]
            z = torch.randn(batch_size, latent_dim, generator=g).to(device)
            fake = G(z)

            # discriminator
            real_aug = diff_augment(real, augment, g).requires_grad_(r1 > 0)
            d_real = D(real_aug)
            d_fake = D(diff_augment(fake.detach(), augment, g))
            if loss == "hinge":
                d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            else:
                d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            if r1 > 0:
                (grad,) = torch.autograd.grad(d_real.sum(), real_aug, create_graph=True)
                d_loss = d_loss + 0.5 * r1 * grad.pow(2).flatten(1).sum(1).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            # generator
            d_gen = D(diff_augment(fake, augment, g))
            g_loss = -d_gen.mean() if loss == "hinge" else F.softplus(-d_gen).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if ema_decay > 0:
                _ema_update(G_ema, G, min(ema_decay, (1 + step) / (10 + step)))

            history["d_loss"].append(d_loss.item())
            history["g_loss"].append(g_loss.item())
            if log is not None and log_every and step % log_every == 0:
                log(
                    f"step {step}/{steps}: d_loss {np.mean(history['d_loss'][-log_every:]):.3f}"
                    f" g_loss {np.mean(history['g_loss'][-log_every:]):.3f}"
                )
            if callback is not None and callback_every and step % callback_every == 0:
                callback(step, snapshot(G_ema if ema_decay > 0 else G), snapshot(G))
            if state_path is not None and state_every and step % state_every == 0:
                state = {key: module.state_dict() for key, module in modules.items()}
                state.update(rng=g.get_state(), step=step, history=history)
                torch.save(state, Path(state_path).with_suffix(".tmp"))
                Path(state_path).with_suffix(".tmp").replace(state_path)
        result = snapshot(G_ema if ema_decay > 0 else G)
    return result.requires_grad_(False), history


@torch.no_grad()
def sample(
    G: nn.Module, n: int, *, seed: int | torch.Generator = 0, batch_size: int = 500
) -> torch.Tensor:
    """``n`` images ``G(z)``, ``z ~ N(0, I)`` drawn from ``seed``: ``(n, C, H, W)``."""
    d = check_generator(G)
    g = make_generator(seed)
    device = next(G.parameters()).device
    z = torch.randn(n, d, generator=g).to(device)
    return torch.cat([G(z[i : i + batch_size]) for i in range(0, n, batch_size)])

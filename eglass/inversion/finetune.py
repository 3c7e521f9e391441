r"""IAGAN's image-adaptive stage: :func:`finetune` ``z`` and a per-measurement copy of the
generator's weights, from a latent fit."""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn
from torch.func import vmap

from ..evaluate import measurement_error
from ..problem import InverseProblem, accepts_problem
from ..utils import format_shape, stopwatch
from .adam import adam_fit
from .fit import Fit, check_budget
from .result import InversionResult

__all__ = ["finetune", "finetune_fit", "copy_with"]


@accepts_problem("A", "y")
def finetune(
    problem: InverseProblem,
    start: InversionResult,
    *,
    steps: int = 300,
    lr_generator: float = 3e-4,
    lr_latent: float = 1e-4,
    tol: float | None = 3e-4,
    prior_weight: float = 0.0,
    noise_sigma: float | None = None,
    back_project: bool = True,
    progress: bool = True,
) -> InversionResult:
    r"""IAGAN's image-adaptive stage: from a latent fit, Adam on ``z`` and the weights of a
    per-measurement copy of ``G``, minimizing :math:`e(G_\theta(z)) + \lambda\|z\|^2/d`.

    ``invert(problem, "iagan", ...)`` is ``finetune(problem, invert(problem, "latent", ...))``;
    call it directly to try several fine-tuning settings from one latent fit.

    Args:
        problem: the problem the latent fit solved, on the user's generator (never
            modified); older form ``finetune(G, A, y, start, ...)``.
        start: an :class:`InversionResult` for ``y``; the fine-tuning starts from its latent
            fit ``start.z_latent`` and the original ``G`` (so an ``"iagan"`` result can be
            fine-tuned again under other settings).
        steps, lr_generator, lr_latent: Adam steps and learning rates (weights, ``z``).
        tol, prior_weight, noise_sigma, back_project, progress: as in :func:`invert`.

    Returns:
        an ``"iagan"`` :class:`InversionResult` whose history continues the start's latent fit.
    """
    if not isinstance(start, InversionResult):
        raise TypeError(f"start must be an InversionResult, got {type(start).__name__}")
    check_budget(steps, lr_generator, lr_latent, names=("steps", "lr_generator", "lr_latent"))
    p = Fit(problem, tol, prior_weight, noise_sigma, back_project)
    if start.z_latent.shape != (p.n, p.d):
        raise ValueError(
            f"start.z_latent has shape {format_shape(start.z_latent)} but y holds {p.n} "
            f"measurement(s) for a generator with latent_dim {p.d}; expected ({p.n},{p.d})"
        )
    return finetune_fit(p, start, steps, lr_generator, lr_latent, progress)


def finetune_fit(
    p: Fit, start: InversionResult, steps: int, lr_g: float, lr_z: float, progress: bool
) -> InversionResult:
    """The fine-tuning of :func:`finetune` on checked settings ``p``, from ``start``'s
    latent fit: ``N`` generator copies as stacked weights under ``vmap``, one Adam."""
    n, G = p.n, p.G
    with stopwatch() as elapsed:
        stacked = {k: v.expand(n, *v.shape).clone() for k, v in p.params.items()}
        names = list(stacked)

        def one(params, zi):
            return p.generate(zi.unsqueeze(0), params).squeeze(0)

        batched = vmap(one)  # N generator copies, each on its own latent

        def joint_errors(z, *weights):
            e = measurement_error(p.A, batched(dict(zip(names, weights, strict=True)), z), p.y)
            return e, e + p.prior(z)

        groups = [(start.z_latent.to(p.dtype), lr_z)] + [(stacked[k], lr_g) for k in names]
        tensors, hist = adam_fit(
            groups, joint_errors, steps, p.stop, 1, n, progress, "iagan: fine-tune z and G"
        )
        z, fitted = tensors[0], dict(zip(names, tensors[1:], strict=True))
        generators = [copy_with(G, {k: v[i] for k, v in fitted.items()}) for i in range(n)]
        with torch.no_grad():
            x = batched(fitted, z)
            errors = measurement_error(p.A, x, p.y)
            x_bp = p.back_project(x)
    return replace(
        start,
        z=z,
        generators=generators,
        x=x,
        x_bp=x_bp,
        errors=errors,
        history=torch.cat([start.history[: start.latent_steps + 1], hist[1:, 0]]),
        seconds=start.latent_seconds + elapsed(),
        method="iagan",
    )


def copy_with(G: nn.Module, params: dict[str, torch.Tensor]) -> nn.Module:
    """A deep copy of ``G`` in eval mode holding ``params``, with ``requires_grad=False``."""
    g = copy.deepcopy(G).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            p.copy_(params[name])
    g.requires_grad_(False)
    return g

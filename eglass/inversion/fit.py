"""The objective shared by the latent fit and the fine-tuning: :class:`Fit`."""

from __future__ import annotations

import math

import torch
from torch.func import functional_call

from ..problem import InverseProblem
from ..utils import check_eval_mode, check_number, check_positive_int
from .backproject import back_project

__all__ = ["Fit", "check_budget"]


class Fit:
    r"""The problem with the settings shared by the latent fit and the fine-tuning: the
    error :math:`e(G_\theta(z))` plus the prior term :math:`\lambda\|z\|^2/d`, and where to
    stop. The generator's weights enter as plain tensors, so no gradient ever reaches the
    user's ``G``.

    Args:
        problem: the :class:`eglass.problem.InverseProblem` (generator in eval mode, by the
            one rule of :func:`eglass.utils.check_eval_mode`).
        tol: stop a measurement once its error is ``<= tol`` (``None``: never).
        prior_weight: :math:`\lambda \ge 0`.
        noise_sigma: the noise's standard deviation (then stop at :math:`\sigma^2/4` at the
            latest), or ``None``.
        back_project: whether the results carry back-projected images (needs ``A_dagger``).
    """

    def __init__(self, problem: InverseProblem, tol, prior_weight, noise_sigma, back_project):
        if tol is not None:
            tol = check_number("tol", tol, minimum=0)
        prior_weight = check_number("prior_weight", prior_weight, minimum=0)
        if noise_sigma is not None:
            noise_sigma = check_number("noise_sigma", noise_sigma, minimum=0)
        G, A = problem.generator, problem.A
        check_eval_mode(G)
        if back_project and not callable(getattr(A, "A_dagger", None)):
            raise TypeError(
                f"back_project=True needs A.A_dagger(y); {type(A).__name__} has none "
                "(pass back_project=False)"
            )
        self.G, self.A, self.d = G, A, problem.latent_dim
        self.params = {k: v.detach() for k, v in G.named_parameters()}
        self.buffers = {k: v.detach() for k, v in G.named_buffers()}
        self.dtype = problem.dtype
        self.device = problem.y.device
        self.y = problem.y.to(self.dtype)
        self.n = problem.n
        self.stop = tol if tol is not None else -math.inf
        if noise_sigma is not None:
            self.stop = max(self.stop, noise_sigma**2 / 4)
        self.prior_weight = prior_weight
        self.with_bp = back_project

    def generate(self, z: torch.Tensor, params: dict | None = None) -> torch.Tensor:
        """``G(z)`` with the generator's weights, or with ``params`` in their place."""
        return functional_call(self.G, (params or self.params, self.buffers), (z,))

    def prior(self, z: torch.Tensor) -> torch.Tensor:
        r"""The prior term :math:`\lambda\|z\|^2/d` per latent ``(N,)``."""
        if not self.prior_weight:
            return z.new_zeros(z.shape[0])
        return self.prior_weight * z.pow(2).mean(dim=1)

    def back_project(self, x: torch.Tensor) -> torch.Tensor | None:
        """:func:`back_project` of ``x`` onto ``y``, or ``None`` if not asked for."""
        return back_project(self.A, x, self.y) if self.with_bp else None


def check_budget(steps, lr_generator, lr_latent,
                 names=("finetune_steps", "lr_generator", "lr_latent")) -> None:
    """Check a fine-tuning budget: a positive number of steps, two learning rates > 0."""
    check_positive_int(names[0], steps)
    check_number(names[1], lr_generator, positive=True)
    check_number(names[2], lr_latent, positive=True)

r"""GAN inversion from random starts: :func:`invert` (paper Eq. 2), ``"latent"`` or
``"iagan"``, batched over measurements and restarts."""

from __future__ import annotations

import torch

from ..evaluate import measurement_error
from ..problem import InverseProblem, accepts_problem
from ..utils import (
    check_finite,
    check_number,
    check_one_of,
    check_positive_int,
    format_shape,
    make_generator,
    stopwatch,
)
from .adam import adam_fit
from .finetune import finetune_fit
from .fit import Fit, check_budget
from .result import InversionResult

__all__ = ["INVERSION_METHODS", "invert", "starts"]

INVERSION_METHODS = ("latent", "iagan")


@accepts_problem("A", "y", legacy="silent")
def invert(
    problem: InverseProblem,
    method: str = "iagan",
    *,
    restarts: int = 4,
    steps: int = 300,
    lr: float = 0.05,
    finetune_steps: int = 300,
    lr_generator: float = 3e-4,
    lr_latent: float = 1e-4,
    tol: float | None = 3e-4,
    prior_weight: float = 0.0,
    noise_sigma: float | None = None,
    back_project: bool = True,
    seed: int | torch.Generator = 0,
    progress: bool = True,
    init: torch.Tensor | None = None,
) -> InversionResult:
    r"""Invert the generator on measurements ``y = A x (+ n)``: one solution per measurement.

    Args:
        problem: an :class:`eglass.problem.InverseProblem` with ``N`` measurements (the
            operator needs ``A_dagger`` only for back-projection), or the older form
            ``invert(G, A, y, method, ...)``.
        method: ``"latent"`` (fit ``z`` only) or ``"iagan"`` (then :func:`finetune` ``z`` and
            a per-measurement copy of ``G``).
        restarts: ``R`` Gaussian starts per measurement, optimized as one batch.
        steps: Adam steps of the latent fit, learning rate ``lr``.
        finetune_steps, lr_generator, lr_latent: IAGAN joint fine-tuning budget and Adam
            learning rates of the weights and of ``z`` (ignored for ``"latent"``).
        tol: early stopping: a measurement stops once its error is ``<= tol`` (``None``: never).
        prior_weight: :math:`\lambda` of the latent prior term :math:`\lambda \|z\|^2 / d`.
        noise_sigma: standard deviation of the measurement noise on the [-1, 1] scale of
            ``y``, if known. Fitting stops at the discrepancy level: the truth's expected
            error :math:`\sigma^2/4`, so a measurement stops once its error is
            :math:`\le \max(\text{tol}, \sigma^2/4)` instead of fitting the noise.
        back_project: also return :math:`x + A^\dagger(y - A x)` as ``x_bp``.
        seed: seed (or ``torch.Generator``) of the random starts; same seed, same result.
        progress: show a tqdm progress bar.
        init: starting latents instead of Gaussian draws, ``(N, d)`` (one start per
            measurement) or ``(R, N, d)`` (``R`` starts each, which sets ``restarts``), e.g.
            an encoder's first guess (:func:`first_guess`).

    Returns:
        :class:`InversionResult`.

    The defaults were chosen on ten held-out digits and the four problems of
    :func:`benchmark_problems` (``benchmarks/inversion.py``, results in
    ``benchmarks/results/inversion.json``): upstream IAGAN uses 5 starts x 1,800 steps at
    lr 0.1, then 300 joint steps at lr 1e-3 (weights) and 1e-4 (``z``). Here 4 starts x 300
    steps at lr 0.05 suffice for the 64-d prior. A weight lr of 1e-3 ended below the latent
    fit on SR x4 and SR x8 and gained less than half as much as 3e-4 and 1e-4 on CS. With
    ``tol = 3e-4`` (three times below the strict threshold) and weight lr 3e-4 the fine-tuned
    solution gains 0.40 (SR x4), 0.04 (SR x8), 1.05 (inpainting) and 6.75 dB (CS) over the
    latent fit. Fitting on to ``tol = 1e-4`` gains a little more (0.175 dB on SR x8) but runs
    most digits the full 300 steps: the fine-tuning of ten SR x4 digits took 12.2 s instead
    of 1.0 s.

    >>> import torch
    >>> from eglass import models, operators
    >>> G = models.load_generator("mnist-dcgan")
    >>> A = operators.SuperResolution(8)
    >>> x = G(torch.randn(2, 64, generator=torch.Generator().manual_seed(0)))
    >>> problem = InverseProblem(G, A, A(x))
    >>> result = invert(problem, "latent", steps=100, progress=False)
    >>> result.z.shape, bool(result.errors.max() < 1e-2)
    (torch.Size([2, 64]), True)
    """
    check_one_of("method", method, INVERSION_METHODS)
    check_positive_int("restarts", restarts)
    check_positive_int("steps", steps)
    check_number("lr", lr, positive=True)
    if method == "iagan":
        check_budget(finetune_steps, lr_generator, lr_latent)
    p = Fit(problem, tol, prior_weight, noise_sigma, back_project)
    d, n, y = p.d, p.n, p.y

    with stopwatch() as elapsed:
        # Latent fit: R*N latents in one Adam, row r*N + i fits measurement i.
        z_all = starts(p, restarts, seed, init)
        restarts = z_all.shape[0] // n
        y_rep = y.repeat(restarts, *([1] * (y.ndim - 1)))

        def latent_errors(z):
            e = measurement_error(p.A, p.generate(z), y_rep)
            return e, e + p.prior(z)

        (z_all,), hist = adam_fit(
            [(z_all, lr)],
            latent_errors,
            steps,
            p.stop,
            restarts,
            n,
            progress,
            f"{method}: latent fit ({restarts} starts)",
        )
        restart_errors = hist[-1]  # (R, N)
        best = restart_errors.argmin(dim=0)  # (N,)
        restart_z = z_all.view(restarts, n, d)
        idx = torch.arange(n, device=best.device)
        z = restart_z[best, idx].clone()
        with torch.no_grad():
            x = p.generate(z)
            errors = problem.error(x)
        result = InversionResult(
            z=z,
            generators=[problem.generator] * n,
            x=x,
            x_bp=p.back_project(x),
            errors=errors,
            history=hist[:, best, idx],
            latent_steps=hist.shape[0] - 1,
            z_latent=z,
            x_latent=x,
            restart_z=restart_z.clone(),
            restart_errors=restart_errors,
            seconds=(t := elapsed()),
            latent_seconds=t,
            method="latent",
            base=problem,
        )
    if method == "latent":
        return result
    return finetune_fit(p, result, finetune_steps, lr_generator, lr_latent, progress)


def starts(p: Fit, restarts: int, seed, init: torch.Tensor | None) -> torch.Tensor:
    """The latent fit's ``R*N`` starting rows (row ``r*N + i`` fits measurement ``i``):
    ``restarts`` Gaussian draws per measurement from ``seed``, or the given ``init``
    (``(N, d)`` or ``(R, N, d)``)."""
    n, d = p.n, p.d
    if init is None:
        gen = make_generator(seed, p.device)
        z = torch.randn(restarts * n, d, generator=gen, device=gen.device, dtype=p.dtype)
        return z.to(p.device)
    if not isinstance(init, torch.Tensor) or init.ndim not in (2, 3) or init.shape[-2:] != (n, d):
        got = format_shape(init.shape) if isinstance(init, torch.Tensor) else type(init).__name__
        raise ValueError(f"init must be starting latents ({n},{d}) or (R,{n},{d}) for {n} "
                         f"measurement(s) and latent_dim={d}, got {got}")
    check_finite("init", init)
    return init.detach().reshape(-1, d).to(device=p.device, dtype=p.dtype).clone()

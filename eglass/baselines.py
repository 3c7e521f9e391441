r"""Baselines that produce many solutions of :math:`y = A x` under a GAN prior.

Two ways a user would get several solutions without e-GLASS:

* :func:`pulse` -- PULSE (Menon et al., CVPR 2020; upstream ``adamian98/pulse``): solve the
  GAN inversion once per solution from a random start, with the latent kept on the sphere of
  radius :math:`\sqrt d` and a stop criterion :math:`\varepsilon` on the measurement error.
* :func:`langevin` -- unadjusted Langevin dynamics on the latent posterior
  :math:`p(z \mid y) \propto \exp(-\|A G(z) - y\|^2 / (2\sigma^2) - \|z\|^2/2)`
  (Welling & Teh 2011 without the minibatch noise), what a user of posterior samplers would
  reach for.

Both run their restarts / chains as one batch (each row independent), return
:class:`eglass.results.Solutions` with every solution's measurement error, so feasibility at
any threshold :math:`\tau` is decided by the caller, never hidden, and never change the
user's generator (one in training mode is refused by :class:`eglass.problem.InverseProblem`).
The timed comparisons with e-GLASS live in :mod:`eglass.comparison`.

>>> import torch
>>> from eglass import models, operators
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> x = G(torch.randn(1, 64, generator=torch.Generator().manual_seed(0)))
>>> problem = InverseProblem(G, A, A(x))
>>> solutions = pulse(problem, 4, seed=0, progress=False, warn=False)
>>> solutions.method, len(solutions), solutions.columns["steps_used"].shape
('pulse', 4, torch.Size([4]))
"""

from __future__ import annotations

import math
import time
import warnings

import torch
from torch.func import grad

from .problem import InverseProblem, accepts_problem
from .results import Solutions
from .utils import (
    check_finite,
    check_latents,
    check_number,
    check_one_of,
    check_positive_int,
    make_generator,
    progress_bar,
)

__all__ = ["LR_SCHEDULES", "pulse", "pulse_lr_factor", "langevin"]

LR_SCHEDULES = ("fixed", "linear1cycle", "linear1cycledrop")


def pulse_lr_factor(step: int, steps: int, schedule: str = "linear1cycledrop") -> float:
    r"""Learning-rate multiplier of upstream PULSE at optimizer step ``step`` of ``steps``.

    ``linear1cycledrop`` (the upstream default) rises linearly from 0.1 to 1 and back to 0.1
    over the first 90 % of the steps, then falls linearly to 0.001:

    .. math:: f(s) = \tfrac{1}{10}\big(9(1 - 2|s/(0.9S) - \tfrac12|) + 1\big)
        \ (s < 0.9S), \qquad
        f(s) = \tfrac{1}{10} + \tfrac{s - 0.9S}{0.1S}\big(\tfrac{1}{1000} - \tfrac{1}{10}\big).

    ``linear1cycle`` is the same cycle over all ``steps``; ``fixed`` is 1.
    """
    if schedule == "fixed":
        return 1.0
    if schedule == "linear1cycle":
        return (9 * (1 - abs(step / steps - 0.5) * 2) + 1) / 10
    if schedule == "linear1cycledrop":
        if step < 0.9 * steps:
            return (9 * (1 - abs(step / (0.9 * steps) - 0.5) * 2) + 1) / 10
        return 0.1 + (step - 0.9 * steps) / (0.1 * steps) * (1 / 1000 - 1 / 10)
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


def _one_measurement(problem: InverseProblem, n: int) -> int:
    """Check that the problem holds one measurement and that ``n`` is a positive count."""
    n = check_positive_int("n (number of solutions)", n)
    problem.require_one("this baseline")
    return n


def _to_sphere(z: torch.Tensor) -> torch.Tensor:
    r"""Project each row of ``z`` ``(N, d)`` onto the sphere of radius :math:`\sqrt d`."""
    return z * (z.shape[1] ** 0.5 / z.norm(dim=1, keepdim=True).clamp_min(1e-12))


@accepts_problem("A", "y", legacy="silent")
def pulse(
    problem: InverseProblem,
    n: int,
    *,
    eps: float = 2e-3,
    steps: int = 100,
    lr: float = 0.4,
    lr_schedule: str = "linear1cycledrop",
    loss_weight: float = 100.0,
    seed: int | torch.Generator = 0,
    progress: bool = True,
    warn: bool = True,
) -> Solutions:
    r"""PULSE: ``n`` independent random restarts of spherical GAN inversion.

    Follows upstream ``adamian98/pulse`` (``PULSE.py``, ``SphericalOptimizer.py``,
    ``loss.py``, ``run.py`` defaults) where it applies to a single-latent generator:

    * start :math:`z \sim \mathcal N(0, I_d)` projected to :math:`\|z\| = \sqrt d`, and
      renormalize to that sphere after every optimizer step (upstream keeps each start's own
      radius, which is :math:`\sqrt d` up to :math:`O(1)`);
    * Adam, ``lr = 0.4``, ``100`` steps, the ``linear1cycledrop`` schedule
      (:func:`pulse_lr_factor`);
    * loss :math:`100 \cdot \max(e(z), \varepsilon)` with :math:`e` the measurement error on
      the [0, 1] scale (:func:`eglass.evaluate.measurement_error`) and
      :math:`\varepsilon = 2\cdot10^{-3}`; a restart whose error reaches
      :math:`\varepsilon` is finished (frozen at that iterate, which is the image upstream
      returns too: the clamp makes later iterates no better). Unlike upstream, the batch
      stops as soon as every restart is finished, which only makes PULSE faster.

    Not applicable here: GEOCROSS (it penalizes the angles between StyleGAN's 18 per-layer
    latents; a single latent has none), the trainable noise inputs and the mapping-network
    Gaussian fit (StyleGAN specifics). Two upstream bugs are avoided: upstream returns the
    *last* image with the *best* image's low-resolution version (here every returned image is
    its restart's best iterate with its own error), and reseeds every call identically
    (here all ``n`` starts are distinct draws from one ``seed`` / ``torch.Generator``;
    pass the same generator to a later call to continue the stream).

    Args:
        problem: an :class:`eglass.problem.InverseProblem` of one measurement (older form:
            ``pulse(G, A, y, n, ...)``).
        n: number of restarts (one per solution), run together as one batch.
        eps: stop criterion on the measurement error.
        steps: optimizer steps per restart.
        lr, lr_schedule: Adam's peak learning rate and its schedule (one of
            ``LR_SCHEDULES``).
        loss_weight: upstream's ``100*L2`` weight, > 0 (Adam is nearly invariant to it).
        seed: int or ``torch.Generator`` for the random starts.
        progress: show a tqdm bar. warn: warn when some restarts fail.

    Returns:
        :class:`eglass.results.Solutions` (method ``"pulse"``, ``tau = eps``) with columns
        ``"steps_used"`` (optimizer steps until ``eps``, ``steps`` if never) and ``"start"``
        (the random starts ``(n, d)``); ``(~solutions.feasible()).sum()`` counts the
        restarts that never reached ``eps``.
    """
    n = _one_measurement(problem, n)
    d, dtype, device = problem.latent_dim, problem.dtype, problem.y.device
    steps = check_positive_int("steps", steps)
    for name, value in (("eps", eps), ("lr", lr), ("loss_weight", loss_weight)):
        check_number(name, value, positive=True)
    check_one_of("lr_schedule", lr_schedule, LR_SCHEDULES)

    gen = make_generator(seed, device)
    start = time.perf_counter()
    z = _to_sphere(torch.randn((n, d), generator=gen, dtype=dtype, device=device))
    initial_z = z.clone()

    def loss(z):
        x = problem.generator(z)
        err = problem.error(x)
        return loss_weight * err.clamp_min(eps).sum(), (err.detach(), x.detach())

    loss_grad = grad(loss, has_aux=True)
    opt = torch.optim.Adam([z], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: pulse_lr_factor(s, steps, lr_schedule)
    )
    best_err = torch.full((n,), math.inf, dtype=dtype, device=device)
    best_z = z.clone()
    best_x = None
    steps_used = torch.full((n,), steps, dtype=torch.long, device=device)
    active = torch.ones(n, dtype=torch.bool, device=device)
    bar = progress_bar(total=steps, desc="PULSE", enabled=progress, leave=False)
    for step in range(steps + 1):  # iterate `step` has had `step` optimizer steps
        g, (err, x) = loss_grad(z)
        if best_x is None:
            best_x = x.clone()
        better = active & (err < best_err)
        best_err[better] = err[better]
        best_z[better] = z[better]
        best_x[better] = x[better]
        reached = active & (err <= eps)
        steps_used[reached] = step
        active &= ~reached
        if step == steps or not active.any():
            break
        z.grad = g * active.unsqueeze(1)
        opt.step()
        sched.step()
        with torch.no_grad():
            z.copy_(torch.where(active.unsqueeze(1), _to_sphere(z), best_z))
        bar.update(1)
        bar.set_postfix(done=int((~active).sum()), best=f"{best_err.min():.1e}")
    bar.close()
    check_finite("PULSE latents", best_z)
    result = Solutions(
        z=best_z, x=best_x, errors=best_err, method="pulse", tau=eps,
        params=dict(eps=eps, steps=steps, lr=lr, lr_schedule=lr_schedule,
                    loss_weight=loss_weight),
        columns=dict(steps_used=steps_used, start=initial_z),
        seconds=time.perf_counter() - start,
    )
    failed = ~result.feasible()
    if warn and failed.any():
        warnings.warn(
            f"PULSE: {int(failed.sum())} of {n} restarts did not reach eps={eps:g} in {steps} "
            f"steps (best errors of those: {best_err[failed].min():.2e}..."
            f"{best_err[failed].max():.2e}); they are kept in the result (not feasible at eps)",
            stacklevel=2,
        )
    return result


@accepts_problem("A", "y")
def langevin(
    problem: InverseProblem,
    n: int,
    *,
    sigma: float = 0.05,
    step_size: float | None = None,
    burn_in: int = 500,
    thin: int = 20,
    chains: int = 1,
    init: torch.Tensor | None = None,
    seed: int | torch.Generator = 0,
    progress: bool = True,
) -> Solutions:
    r"""``n`` samples of :math:`p(z \mid y)` by unadjusted Langevin dynamics in latent space.

    Potential (negative log-posterior up to a constant), Gaussian likelihood and standard
    normal prior:

    .. math:: U(z) = \frac{\|A G(z) - y\|_2^2}{2\sigma^2} + \frac{\|z\|_2^2}{2}, \qquad
        z_{k+1} = z_k - h \nabla U(z_k) + \sqrt{2h}\,\xi_k,\ \xi_k \sim \mathcal N(0, I_d).

    Noise convention: ``sigma`` is the standard deviation of the measurement noise on the
    **[-1, 1] image scale** (so :math:`\sigma/2` on the [0, 1] scale). A sample that fits the
    measurements to the noise level has measurement error about :math:`\sigma^2/4`:
    ``sigma = 0.2`` matches :math:`\tau = 10^{-2}`, ``sigma = 0.063`` matches
    :math:`10^{-3}`. ULA is stable only for :math:`h < 2/L`, :math:`L` the largest
    eigenvalue of :math:`H_Y/\sigma^2 + I` (:func:`eglass.geometry.measurement_metric`);
    it is biased by :math:`O(h)` (no Metropolis correction).

    ``chains`` independent chains run as one batch; each runs ``burn_in`` steps, then keeps
    every ``thin``-th state until ``n`` samples are collected in all (chains interleaved).

    Args:
        problem: an :class:`eglass.problem.InverseProblem` of one measurement (older form:
            ``langevin(G, A, y, n, ...)``).
        n: number of samples returned.
        sigma: noise standard deviation (see above).
        step_size: :math:`h`; ``None`` picks :math:`h = 0.25 / L` with :math:`L` the largest
            eigenvalue of :math:`H_Y/\sigma^2 + I` over the chains' starting points.
        burn_in, thin, chains: chain layout (steps run: ``burn_in + thin * ceil(n/chains)``).
        init: ``(1, d)`` or ``(chains, d)`` starting latents (e.g. a GAN-inversion
            solution); default a draw from the prior.
        seed: int or ``torch.Generator`` for the start and the Langevin noise.

    Returns:
        :class:`eglass.results.Solutions` (method ``"langevin"``) with columns ``"chain"``
        (the chain of each sample) and ``"step"`` (the Langevin step it was taken at);
        ``params`` holds ``sigma`` and the ``step_size`` used.
    """
    n = _one_measurement(problem, n)
    d, dtype, device = problem.latent_dim, problem.dtype, problem.y.device
    check_number("sigma", sigma, positive=True)
    if step_size is not None:
        check_number("step_size", step_size, positive=True)
    burn_in = check_positive_int("burn_in", burn_in, minimum=0)
    thin, chains = check_positive_int("thin", thin), check_positive_int("chains", chains)
    gen = make_generator(seed, device)
    start = time.perf_counter()
    if init is None:
        z = torch.randn((chains, d), generator=gen, dtype=dtype, device=device)
    else:
        check_latents("init", init, d)
        if init.shape[0] not in (1, chains):
            raise ValueError(
                f"init must have shape (1,{d}) or (chains={chains},{d}), got {tuple(init.shape)}"
            )
        z = init.detach().to(dtype=dtype, device=device).expand(chains, d).clone()

    if step_size is None:
        from .geometry import measurement_metric

        top = max(torch.linalg.eigvalsh(measurement_metric(problem, zi)).max() for zi in z)
        step_size = 0.25 / (float(top) / sigma**2 + 1)

    def potential(z):
        residual = problem.residual(z)
        return (residual.pow(2).sum(1) / (2 * sigma**2) + z.pow(2).sum(1) / 2).sum()

    potential_grad = grad(potential)
    per_chain = math.ceil(n / chains)
    total = burn_in + thin * per_chain
    noise_scale = math.sqrt(2 * step_size)
    kept_z, kept_step = [], []
    bar = progress_bar(total=total, desc="Langevin", enabled=progress, leave=False)
    for k in range(1, total + 1):
        bar.update(1)
        noise = torch.randn((chains, d), generator=gen, dtype=dtype, device=device)
        z = z - step_size * potential_grad(z) + noise_scale * noise
        if not torch.isfinite(z).all():
            raise RuntimeError(
                f"Langevin diverged at step {k} (non-finite latents): step_size={step_size:g} "
                f"is too large for sigma={sigma:g}; it must be below 2/L, L the largest "
                "eigenvalue of H_Y/sigma^2 + I"
            )
        if k > burn_in and (k - burn_in) % thin == 0:
            kept_z.append(z)
            kept_step.append(k)
    bar.close()
    zs = torch.stack(kept_z).reshape(-1, d)[:n]  # (per_chain * chains, d), time-major
    chain = torch.arange(chains, device=device).repeat(per_chain)[:n]
    step = torch.tensor(kept_step, device=device).repeat_interleave(chains)[:n]
    x = problem.generate(zs)
    with torch.no_grad():
        errors = problem.error(x)
    return Solutions(
        z=zs, x=x, errors=errors, method="langevin",
        params=dict(sigma=sigma, step_size=step_size, burn_in=burn_in, thin=thin,
                    chains=chains),
        columns=dict(chain=chain, step=step), seconds=time.perf_counter() - start,
    )

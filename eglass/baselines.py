r"""Baselines that produce many solutions of :math:`y = A x` under a GAN prior.

Two ways a user would get several solutions without e-GLASS:

* :func:`pulse` -- PULSE (Menon et al., CVPR 2020; upstream ``adamian98/pulse``): solve the
  GAN inversion once per solution from a random start, with the latent kept on the sphere of
  radius :math:`\sqrt d` and a stop criterion :math:`\varepsilon` on the measurement error.
* :func:`langevin` -- unadjusted Langevin dynamics on the latent posterior
  :math:`p(z \mid y) \propto \exp(-\|A G(z) - y\|^2 / (2\sigma^2) - \|z\|^2/2)`
  (Welling & Teh 2011 without the minibatch noise), what a user of posterior samplers would
  reach for.

Both run their restarts / chains as one batch (each row independent) and report every
solution's measurement error (:func:`eglass.evaluate.measurement_error`), so feasibility at
any threshold :math:`\tau` is decided by the caller, never hidden.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import torch
from torch.func import grad
from tqdm.auto import tqdm

from .evaluate import measurement_error
from .utils import check_finite, check_generator, check_latents, make_generator

__all__ = [
    "LR_SCHEDULES",
    "PulseResult",
    "LangevinResult",
    "SolutionRun",
    "pulse",
    "pulse_lr_factor",
    "langevin",
    "run_pulse",
    "run_langevin",
    "run_eglass",
    "solutions_table",
    "compare",
    "benchmark_table",
    "show_solutions",
]

LR_SCHEDULES = ("fixed", "linear1cycle", "linear1cycledrop")
# e-GLASS's one inversion in the comparisons: IAGAN with 4 starts x 200 latent steps, then 100
# joint fine-tuning steps -- about 900 latent-step equivalents, i.e. the budget of nine PULSE
# restarts (100 steps each).
EGLASS_INVERSION = dict(method="iagan", restarts=4, steps=200, finetune_steps=100)


@dataclass
class PulseResult:
    """The ``n`` restarts of :func:`pulse`, one row each.

    Attributes:
        z: ``(n, d)`` best latent of each restart (on the sphere of radius :math:`\\sqrt d`).
        x: ``(n, C, H, W)`` images ``G(z)``.
        errors: ``(n,)`` measurement errors of ``x`` (the same numbers the stop test used).
        success: ``(n,)`` bool, ``errors <= eps``.
        steps_used: ``(n,)`` optimizer steps taken until ``eps`` was reached (``steps`` if not).
        initial_z: ``(n, d)`` the random starts.
        seconds: wall time of the whole batch.
        eps: the stop criterion.
    """

    z: torch.Tensor
    x: torch.Tensor
    errors: torch.Tensor
    success: torch.Tensor
    steps_used: torch.Tensor
    initial_z: torch.Tensor
    seconds: float
    eps: float

    @property
    def failures(self) -> int:
        """Number of restarts whose best iterate never reached ``eps``."""
        return int((~self.success).sum())

    def __repr__(self) -> str:
        n = self.success.numel()
        return (
            f"PulseResult(n={n}, successes={n - self.failures}, failures={self.failures}, "
            f"eps={self.eps:g}, errors in [{self.errors.min():.2e}, {self.errors.max():.2e}], "
            f"seconds={self.seconds:.2f})"
        )


@dataclass
class LangevinResult:
    """``n`` latent posterior samples from :func:`langevin`.

    Attributes:
        z: ``(n, d)`` samples, ``x``: ``(n, C, H, W)`` images ``G(z)``,
        errors: ``(n,)`` measurement errors of ``x``,
        chain: ``(n,)`` index of the chain each sample comes from,
        step: ``(n,)`` Langevin step at which it was taken,
        seconds: wall time, sigma / step_size: the settings used.
    """

    z: torch.Tensor
    x: torch.Tensor
    errors: torch.Tensor
    chain: torch.Tensor
    step: torch.Tensor
    seconds: float
    sigma: float
    step_size: float

    def __repr__(self) -> str:
        return (
            f"LangevinResult(n={self.z.shape[0]}, chains={int(self.chain.max()) + 1}, "
            f"sigma={self.sigma:g}, step_size={self.step_size:g}, errors in "
            f"[{self.errors.min():.2e}, {self.errors.max():.2e}], seconds={self.seconds:.2f})"
        )


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


def _setup(G, A, y: torch.Tensor, n: int) -> tuple[int, torch.dtype, torch.device]:
    """Validate the common arguments; return (latent_dim, dtype, device)."""
    d = check_generator(G)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n (number of solutions) must be a positive int, got {n!r}")
    check_finite("y", y)
    if y.ndim < 2 or y.shape[0] != 1:
        raise ValueError(
            f"y must be the measurements of ONE image, shape (1, ...), got {tuple(y.shape)}"
        )
    param = next(iter(G.parameters()), None)
    dtype = param.dtype if param is not None else y.dtype
    with torch.no_grad():
        ay = A(G(torch.zeros(1, d, dtype=dtype, device=y.device)))
    if tuple(ay.shape) != tuple(y.shape):
        raise ValueError(
            f"y has shape {tuple(y.shape)} but A(G(z)) has shape {tuple(ay.shape)} for one "
            "latent; expected them equal"
        )
    return d, dtype, y.device


def _to_sphere(z: torch.Tensor) -> torch.Tensor:
    r"""Project each row of ``z`` ``(N, d)`` onto the sphere of radius :math:`\sqrt d`."""
    return z * (z.shape[1] ** 0.5 / z.norm(dim=1, keepdim=True).clamp_min(1e-12))


def pulse(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
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
) -> PulseResult:
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
        G: generator ``(N, d) -> (N, C, H, W)`` with attribute ``latent_dim``.
        A: linear operator (or callable) on images ``(N, C, H, W)``.
        y: measurements of one image, shape ``A(G(z)).shape`` with batch 1.
        n: number of restarts (one per solution), run together as one batch.
        eps: stop criterion on the measurement error.
        steps: optimizer steps per restart.
        lr, lr_schedule: Adam's peak learning rate and its schedule (one of
            ``LR_SCHEDULES``).
        loss_weight: upstream's ``100*L2`` weight (Adam is nearly invariant to it).
        seed: int or ``torch.Generator`` for the random starts.
        progress: show a tqdm bar. warn: warn when some restarts fail.

    Returns:
        :class:`PulseResult`; ``.failures`` counts the restarts that never reached ``eps``.
    """
    d, dtype, device = _setup(G, A, y, n)
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not eps > 0 or not lr > 0:
        raise ValueError(f"eps and lr must be positive, got eps={eps}, lr={lr}")
    pulse_lr_factor(0, steps, lr_schedule)  # validates the schedule name

    gen = make_generator(seed, device)
    start = time.perf_counter()
    z = _to_sphere(torch.randn((n, d), generator=gen, dtype=dtype, device=device))
    initial_z = z.clone()

    def loss(z):
        x = G(z)
        err = measurement_error(A, x, y)
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
    bar = tqdm(total=steps, desc="PULSE", disable=not progress, leave=False)
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
    result = PulseResult(
        z=best_z,
        x=best_x,
        errors=best_err,
        success=best_err <= eps,
        steps_used=steps_used,
        initial_z=initial_z,
        seconds=time.perf_counter() - start,
        eps=eps,
    )
    if warn and result.failures:
        warnings.warn(
            f"PULSE: {result.failures} of {n} restarts did not reach eps={eps:g} in {steps} "
            f"steps (best errors of those: {best_err[~result.success].min():.2e}..."
            f"{best_err[~result.success].max():.2e}); they are kept in the result with "
            "success=False",
            stacklevel=2,
        )
    return result


def langevin(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
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
) -> LangevinResult:
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
        G, A, y: generator, operator and measurements of one image ``(1, ...)``.
        n: number of samples returned.
        sigma: noise standard deviation (see above).
        step_size: :math:`h`; ``None`` picks :math:`h = 0.25 / L` with :math:`L` the largest
            eigenvalue of :math:`H_Y/\sigma^2 + I` over the chains' starting points.
        burn_in, thin, chains: chain layout (steps run: ``burn_in + thin * ceil(n/chains)``).
        init: ``(1, d)`` or ``(chains, d)`` starting latents (e.g. a GAN-inversion
            solution); default a draw from the prior.
        seed: int or ``torch.Generator`` for the start and the Langevin noise.

    Returns:
        :class:`LangevinResult`.
    """
    d, dtype, device = _setup(G, A, y, n)
    if not sigma > 0 or not (step_size is None or step_size > 0):
        raise ValueError(
            f"sigma and step_size must be positive, got sigma={sigma}, step_size={step_size}"
        )
    for name, value, low in (("burn_in", burn_in, 0), ("thin", thin, 1), ("chains", chains, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
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

        top = max(torch.linalg.eigvalsh(measurement_metric(G, A, zi)).max() for zi in z)
        step_size = 0.25 / (float(top) / sigma**2 + 1)

    def potential(z):
        residual = (A(G(z)) - y).flatten(1)
        return (residual.pow(2).sum(1) / (2 * sigma**2) + z.pow(2).sum(1) / 2).sum()

    potential_grad = grad(potential)
    per_chain = math.ceil(n / chains)
    total = burn_in + thin * per_chain
    noise_scale = math.sqrt(2 * step_size)
    kept_z, kept_step = [], []
    for k in tqdm(range(1, total + 1), desc="Langevin", disable=not progress, leave=False):
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
    zs = torch.stack(kept_z).reshape(-1, d)[:n]  # (per_chain * chains, d), time-major
    chain = torch.arange(chains, device=device).repeat(per_chain)[:n]
    step = torch.tensor(kept_step, device=device).repeat_interleave(chains)[:n]
    with torch.no_grad():
        x = G(zs)
        errors = measurement_error(A, x, y)
    return LangevinResult(
        z=zs,
        x=x,
        errors=errors,
        chain=chain,
        step=step,
        seconds=time.perf_counter() - start,
        sigma=sigma,
        step_size=step_size,
    )


# --------------------------------------------------------------------------- time to k solutions


@dataclass
class SolutionRun:
    """Candidates a method produced in rounds, with the time each became available.

    Attributes:
        method: ``"e-GLASS"``, ``"PULSE"`` or ``"Langevin"``.
        x: ``(M, C, H, W)`` every candidate, in the order produced.
        errors: ``(M,)`` their measurement errors.
        ready_at: ``(M,)`` seconds from the start of the run to the end of the round that
            produced each candidate (a batch is available only when it finishes).
        setup_seconds: time before the first round (e-GLASS: inversion + both Hessians).
        seconds: wall time of the whole run.
        settings: the per-solve budgets and settings used (for reports).
        context: what a method computed on the way (e-GLASS: the fine-tuned generator ``G``,
            ``z0``, ``H_Y``, ``H_X``), for further exploration or figures.
    """

    method: str
    x: torch.Tensor
    errors: torch.Tensor
    ready_at: torch.Tensor
    setup_seconds: float
    seconds: float
    settings: dict
    context: dict = field(default_factory=dict)

    def feasible(self, tau: float) -> torch.Tensor:
        """Boolean ``(M,)``: ``errors <= tau``."""
        return self.errors <= tau

    def first_feasible(self, k: int, tau: float) -> torch.Tensor:
        """Indices of the first ``k`` feasible candidates (fewer if fewer exist)."""
        return self.feasible(tau).nonzero().flatten()[:k]

    def solutions(self, k: int, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``k`` feasible candidates: images ``(k', C, H, W)`` and errors ``(k',)``."""
        index = self.first_feasible(k, tau)
        return self.x[index], self.errors[index]

    def best(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` candidates with the lowest errors (feasible or not): images and errors."""
        index = self.errors.argsort()[:k]
        return self.x[index], self.errors[index]

    def time_to(self, k: int, tau: float) -> float | None:
        """Seconds until ``k`` feasible candidates existed, ``None`` if the run never got there."""
        index = self.first_feasible(k, tau)
        return float(self.ready_at[index[-1]]) if index.numel() == k else None


def _collect(method, rounds, target, tau, settings, setup=lambda: None) -> SolutionRun:
    """Run ``setup`` then the ``rounds`` iterator (each item: images, errors) until ``target``
    candidates have error <= tau or the iterator ends; time everything."""
    start = time.perf_counter()
    setup()
    setup_seconds = time.perf_counter() - start
    xs, errs, ready = [], [], []
    found = 0
    for x, err in rounds:
        now = time.perf_counter() - start
        xs.append(x)
        errs.append(err)
        ready.append(torch.full((x.shape[0],), now, dtype=torch.float64))
        found += int((err <= tau).sum())
        if found >= target:
            break
    if not xs:
        raise RuntimeError(f"{method}: no round ran (check max_candidates)")
    return SolutionRun(
        method=method, x=torch.cat(xs), errors=torch.cat(errs), ready_at=torch.cat(ready),
        setup_seconds=setup_seconds, seconds=time.perf_counter() - start, settings=settings,
    )


def run_pulse(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    *,
    target: int,
    tau: float,
    batch: int = 20,
    max_candidates: int = 200,
    eps: float | None = None,
    seed: int | torch.Generator = 0,
    **pulse_kwargs,
) -> SolutionRun:
    r"""PULSE restarts in batches of ``batch`` until ``target`` have error :math:`\le \tau`
    (or ``max_candidates`` restarts ran). ``eps`` defaults to :math:`\min(2\cdot10^{-3},\tau)`:
    upstream's criterion, tightened when :math:`\tau` is stricter. One ``torch.Generator``
    feeds all batches, so no restart repeats."""
    eps = min(2e-3, tau) if eps is None else eps
    gen = make_generator(seed, y.device)
    failures = []

    def rounds():
        done = 0
        while done < max_candidates:
            n = min(batch, max_candidates - done)
            r = pulse(G, A, y, n, eps=eps, seed=gen, progress=False, warn=False, **pulse_kwargs)
            failures.append(r.failures)
            done += n
            yield r.x, r.errors

    settings = dict(eps=eps, batch=batch, max_candidates=max_candidates,
                    steps=pulse_kwargs.get("steps", 100), lr=pulse_kwargs.get("lr", 0.4))
    run = _collect("PULSE", rounds(), target, tau, settings)
    run.settings["failures"] = sum(failures)
    return run


def run_langevin(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    *,
    target: int,
    tau: float,
    sigma: float = 0.03,
    step_size: float | None = None,
    chains: int = 10,
    burn_in: int = 300,
    thin: int = 10,
    per_round: int = 20,
    max_candidates: int = 200,
    seed: int | torch.Generator = 0,
) -> SolutionRun:
    r"""Latent Langevin chains (:func:`langevin`) continued round after round, ``per_round``
    samples a round (``burn_in`` only before the first), until ``target`` samples have error
    :math:`\le \tau` or ``max_candidates`` were drawn. Default noise level
    :math:`\sigma = 0.03` (expected error :math:`\sigma^2/4 \approx 2\cdot10^{-4}`, below both
    thresholds); default step size from the curvature at the starts (see :func:`langevin`)."""
    if per_round % chains:
        raise ValueError(f"per_round ({per_round}) must be a multiple of chains ({chains})")
    gen = make_generator(seed, y.device)
    used = {}

    def rounds():
        state, done, h = None, 0, step_size
        while done < max_candidates:
            r = langevin(G, A, y, per_round, sigma=sigma, step_size=h,
                         burn_in=burn_in if state is None else 0, thin=thin, chains=chains,
                         init=state, seed=gen, progress=False)
            state = r.z[-chains:]  # the chains' current states
            h = used["step_size"] = r.step_size  # keep the first round's (auto) step size
            done += per_round
            yield r.x, r.errors

    settings = dict(sigma=sigma, chains=chains, burn_in=burn_in, thin=thin,
                    max_candidates=max_candidates)
    run = _collect("Langevin", rounds(), target, tau, settings)
    run.settings["step_size"] = used["step_size"]
    return run


def run_eglass(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    distance,
    *,
    target: int,
    tau: float,
    Ks=range(2, 42),
    etas=(-6.0, -4.0, -2.0, 2.0, 4.0, 6.0),
    ks_per_round: int = 4,
    inversion: dict | None = None,
    explore: dict | None = None,
    seed: int | torch.Generator = 0,
) -> SolutionRun:
    r"""e-GLASS end to end: IAGAN inversion (:func:`eglass.inversion.invert`), both metric
    Hessians at :math:`z_0` on the fine-tuned generator (:mod:`eglass.geometry`), then
    Algorithm 1 solutions :math:`G(z_0 + \eta d_K)` (:func:`eglass.explore.explore`),
    ``ks_per_round`` directions a round, until ``target`` have error :math:`\le \tau`.
    The setup time (inversion + Hessians) is part of every time-to-k. Default steps
    :math:`|\eta| \le 6` (with :math:`\|z_0\| \approx 8`): on held-out digits nearly all
    SR x8 candidates stay below :math:`\tau = 10^{-2}` while the images change visibly;
    :math:`|\eta| \le 3` is more feasible but about 3x less diverse. ``inversion`` overrides
    keys of ``EGLASS_INVERSION`` (the arguments of :func:`eglass.inversion.invert`), ``explore``
    passes Algorithm 1 settings (``threshold``, ``top``) to :func:`eglass.explore.explore`."""
    from .explore import explore as _explore
    from .geometry import metrics
    from .inversion import invert

    inversion = {**EGLASS_INVERSION, **(inversion or {})}
    state = {}

    def setup():
        inv = invert(G, A, y, seed=seed, progress=False, back_project=False, **inversion)
        Gf, z0 = inv.generator, inv.z
        H_Y, H_X = metrics(Gf, A, distance, z0)
        state.update(G=Gf, z0=z0, H_Y=H_Y, H_X=H_X, inv_error=float(inv.errors[0]))

    Ks = list(Ks)

    def rounds():
        for i in range(0, len(Ks), ks_per_round):
            ex = _explore(state["G"], A, y, state["z0"], state["H_Y"], state["H_X"],
                          method="eglass", Ks=Ks[i : i + ks_per_round], etas=etas,
                          tau=tau, **(explore or {}))
            yield ex.x, ex.errors

    settings = dict(inversion=inversion, Ks=[Ks[0], Ks[-1]], etas=list(etas))
    run = _collect("e-GLASS", rounds(), target, tau, settings, setup)
    run.settings["inversion_error"] = state.pop("inv_error")
    run.context = state
    return run


def solutions_table(
    runs: dict[str, SolutionRun],
    targets: tuple[int, ...] = (10,),
    taus: tuple[float, ...] = (1e-2,),
) -> str:
    """A text table: per method, seconds to ``k`` feasible solutions for each ``k`` and
    :math:`\tau`, the ratio to the first method, candidates tried and the feasible fraction."""
    keys = [(k, tau) for tau in taus for k in targets]
    base = next(iter(runs.values()))
    head = f"{'method':10s}" + "".join(f"{f't{k}@{tau:g} [s]':>16s}" for k, tau in keys)
    head += f"{'ratio':>9s}{'tried':>7s}{'feasible':>10s}"
    lines = [head]
    for name, run in runs.items():
        row = f"{name:10s}"
        for k, tau in keys:
            t = run.time_to(k, tau)
            row += f"{'not reached':>16s}" if t is None else f"{t:16.2f}"
        t, t0 = run.time_to(*keys[0]), base.time_to(*keys[0])
        ratio = "-" if t is None or t0 is None else f"{t / t0:.1f}x"
        row += f"{ratio:>9s}{run.x.shape[0]:7d}{run.feasible(keys[0][1]).float().mean():10.2f}"
        lines.append(row)
    return "\n".join(lines)


def show_solutions(
    rows: dict[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    classifier: torch.nn.Module | None = None,
    k: int = 8,
    suptitle: str | None = None,
    size: float = 1.2,
):
    """Rows of solutions as in the paper's Figs. 2-3: each row label carries the range of
    measurement errors shown; each image is titled with its error (and, with a classifier,
    the predicted digit and its confidence).

    Args:
        rows: label -> (images ``(N, C, H, W)``, errors ``(N,)``); the first ``k`` are shown.
        classifier: optional digit classifier with ``predict_proba``.
        size: inches per image.
    """
    from .plotting import show_images

    images, titles, labels = [], [], []
    for label, (x, err) in rows.items():
        if x.shape[0] == 0:
            raise ValueError(f"row {label!r} has no images; show e.g. run.best(k) instead")
        x, err = x[:k].detach(), err[:k]
        row_titles = [f"{e:.1e}" for e in err.tolist()]
        if classifier is not None:
            with torch.no_grad():
                p = classifier.predict_proba(x)
            conf, cls = p.max(dim=1)
            row_titles = [f"{t}\n{c} ({q:.2f})" for t, c, q in
                          zip(row_titles, cls.tolist(), conf.tolist(), strict=True)]
        images.append(x)
        titles.append(row_titles)
        labels.append(f"{label}\n[{err.min():.1e}, {err.max():.1e}]")
    return show_images(images, titles=titles, row_labels=labels, suptitle=suptitle, size=size)


def compare(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    distance,
    *,
    target: int = 10,
    tau: float = 1e-2,
    max_candidates: int = 100,
    seed: int = 0,
) -> dict[str, SolutionRun]:
    """e-GLASS, PULSE and Langevin on the same measurements, each until ``target`` feasible
    solutions (or ``max_candidates`` for the two baselines), in that order, same process."""
    return {
        "e-GLASS": run_eglass(G, A, y, distance, target=target, tau=tau, seed=seed),
        "PULSE": run_pulse(G, A, y, target=target, tau=tau, max_candidates=max_candidates,
                           seed=seed),
        "Langevin": run_langevin(G, A, y, target=target, tau=tau,
                                 max_candidates=max_candidates, seed=seed),
    }


def _cell(t, reached, n):
    if t is None:
        return "not reached"
    return f"{t:.2f}" + ("" if reached == n else f" ({reached}/{n})")


def benchmark_table(summary: dict, n_digits: int) -> str:
    """Text table of a ``benchmarks/solutions.py`` summary (one problem): median seconds to
    k feasible solutions per method (``(r/n)``: reached on only r of n digits), feasible
    fraction, diversity and confidence of the first 10, and the median per-digit time ratios
    to e-GLASS."""
    keys = list(next(iter(summary.values()))["time_to"])
    lines = [f"{'method':9s}" + "".join(f"{'t' + k + ' [s]':>17s}" for k in keys)
             + f"{'feas@0.01':>10s}{'div@10':>8s}{'cls@10':>7s}{'conf@10':>8s}"]
    for method, s in summary.items():
        div = s["mean_distance@10"]
        lines.append(
            f"{method:9s}" + "".join(
                f"{_cell(s['time_to'][k], s['reached'][k], n_digits):>17s}" for k in keys)
            + f"{s['feasible_fraction']['0.01']:10.2f}"
            + f"{'-' if div is None else format(div, '.3f'):>8s}"
            + f"{s['classes@10'] or 0:7.1f}{s['confidence@10'] or 0:8.2f}")
    for method in list(summary)[1:]:
        ratios = summary[method]["ratio_vs_eglass"]
        lines.append(f"{method + ' / e-GLASS':18s}" + "  ".join(
            f"{k}: {'-' if ratios[k] is None else format(ratios[k], '.1f') + 'x'}"
            for k in keys))
    return "\n".join(lines)

r"""GAN inversion: a first solution ``G(z0)`` of a linear inverse problem (paper Eq. 2).

Two methods, both batched over ``N`` measurements and over ``R`` random starts:

* ``"latent"`` (CSGM, Bora et al. 2017): from ``R`` Gaussian starts, Adam on the latent

  .. math:: \hat z = \arg\min_z\; e\big(G(z)\big) + \lambda\, \tfrac{1}{d}\|z\|^2,
     \qquad e(x) = \operatorname{mean}\big(((A x - y)/2)^2\big),

  keeping, for each measurement, the start with the lowest measurement error ``e``.
* ``"iagan"`` (image-adaptive GAN, Abu Hussein, Tirer, Giryes 2020): the latent fit above,
  then joint Adam steps on ``z`` *and the generator weights* (small learning rates), each
  measurement with its own copy of the generator. The user's generator is never modified.

Back-projection (IAGAN) moves an image onto the measurement-consistent affine set,
:math:`x_{bp} = x + A^\dagger(y - A x)`, so :math:`A x_{bp} = y` for noiseless ``y``.

All restarts (and all measurements) are optimized as one batch: one Adam on ``R*N`` latents.
During fine-tuning the ``N`` generator copies are stacked parameter tensors evaluated with
``torch.func.functional_call`` under ``torch.func.vmap``; since Adam acts elementwise, one
Adam on the stacked tensors is exactly ``N`` independent Adams.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.func import functional_call, vmap
from tqdm.auto import tqdm

from .deepinv_ops import as_operator
from .evaluate import TAU_STRICT, measurement_error, psnr
from .problem import InverseProblem, accepts_problem
from .utils import (
    check_finite,
    check_images,
    check_positive_int,
    format_shape,
    make_generator,
    stopwatch,
)

__all__ = [
    "InversionResult",
    "invert",
    "finetune",
    "fast_start",
    "first_guess",
    "back_project",
    "compare_solutions",
    "candidates_table",
    "benchmark_problems",
    "INVERSION_METHODS",
]

INVERSION_METHODS = ("latent", "iagan")


@dataclass
class InversionResult:
    """What :func:`invert` returns for ``N`` measurements and ``R`` random starts.

    Attributes:
        z: latents ``(N, d)`` of the solutions.
        generators: ``N`` generators, one per measurement: the user's ``G`` itself for
            ``"latent"``, a fine-tuned deep copy (``requires_grad=False``, eval mode) for
            ``"iagan"``. Use :attr:`generator` when ``N == 1`` or ``result[i]``.
        x: solutions ``generators[i](z[i])``, images ``(N, C, H, W)`` on the generator's
            manifold (the point e-GLASS explores from).
        x_bp: back-projected images :math:`x + A^\\dagger(y - A x)` ``(N, C, H, W)``, or
            ``None`` if ``back_project=False``.
        errors: final measurement error of ``x`` per measurement ``(N,)``.
        history: measurement error after each optimizer step ``(T + 1, N)``: row 0 is the
            start, rows ``1..latent_steps`` the latent fit (of the restart finally chosen),
            the rest the fine-tuning.
        latent_steps: how many latent-fit steps ran (early stopping may cut them short).
        z_latent, x_latent: the latent fit's solution ``(N, d)`` and its image with the
            original generator ``(N, C, H, W)`` (for ``"latent"`` the same as ``z``, ``x``;
            for ``"iagan"`` the starting point of the fine-tuning).
        restart_z: every restart's latent after the latent fit ``(R, N, d)``.
        restart_errors: their measurement errors ``(R, N)``.
        seconds: wall time of the whole call; ``latent_seconds`` of its latent fit.
        method: ``"latent"`` or ``"iagan"``.
        base: the :class:`eglass.problem.InverseProblem` inverted (the user's generator).
    """

    z: torch.Tensor
    generators: list[nn.Module]
    x: torch.Tensor
    x_bp: torch.Tensor | None
    errors: torch.Tensor
    history: torch.Tensor
    latent_steps: int
    z_latent: torch.Tensor
    x_latent: torch.Tensor
    restart_z: torch.Tensor
    restart_errors: torch.Tensor
    seconds: float
    latent_seconds: float
    method: str
    base: InverseProblem

    def problem(self, i: int = 0) -> InverseProblem:
        """The problem of measurement ``i`` on the generator of its solution (for IAGAN its
        fine-tuned copy): what e-GLASS explores from."""
        return self.base.measurement(i).with_generator(self.generators[i])

    @property
    def generator(self) -> nn.Module:
        """The generator of the solution (the fine-tuned copy for IAGAN) when ``N == 1``."""
        first = self.generators[0]
        if all(g is first for g in self.generators):
            return first
        raise ValueError(
            f"this IAGAN result holds {len(self.generators)} fine-tuned generators, one per "
            "measurement; use result.generators[i] or result[i].generator"
        )

    def __len__(self) -> int:
        return self.z.shape[0]

    def __getitem__(self, i: int) -> InversionResult:
        """The result for measurement ``i`` alone (a batch of 1)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"measurement index {i} out of range for {n} measurement(s)")
        s = slice(i, i + 1 if i != -1 else None)
        return replace(
            self,
            z=self.z[s],
            generators=self.generators[s],
            x=self.x[s],
            x_bp=None if self.x_bp is None else self.x_bp[s],
            errors=self.errors[s],
            history=self.history[:, s],
            z_latent=self.z_latent[s],
            x_latent=self.x_latent[s],
            restart_z=self.restart_z[:, s],
            restart_errors=self.restart_errors[:, s],
        )


def back_project(A, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Back-projection :math:`x_{bp} = x + A^\dagger(y - A x)` (IAGAN).

    Replaces the component of ``x`` in the row space of ``A`` by the one the measurements
    fix and keeps its null-space component, so :math:`A x_{bp} = y` (exactly, up to float
    error, when ``y`` is noiseless and :math:`A A^\dagger = I`).

    Args:
        A: a linear operator with ``A(x)`` and ``A_dagger(y)`` (``eglass.operators``).
        x: images ``(N, C, H, W)``.
        y: measurements ``(N, ...)`` (or a batch of 1, broadcast), shape of ``A(x)``.

    Returns:
        ``(N, C, H, W)`` images (not clipped to [-1, 1], which would break consistency).
    """
    check_images("x", x)
    check_finite("y", y)
    A = as_operator(A)
    if not callable(getattr(A, "A_dagger", None)):
        raise TypeError(
            f"A must provide A_dagger(y) for back-projection; {type(A).__name__} does not"
        )
    ax = A(x)
    _check_measurements(y, ax.shape, "A(x)")
    return x + A.A_dagger(y - ax)


@accepts_problem("A", "y")
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
    steps at lr 0.05 suffice for the 64-d prior. A weight lr of 1e-3 lost up to 1.4 dB of PSNR
    to the truth against 3e-4 and 1e-4; fitting on to ``tol = 1e-4`` gained on SR x4 and CS
    but lost more on SR x8, whose 16 measurements let fine-tuning rewrite the null space.
    With ``tol = 3e-4`` (three times below the strict threshold) and weight lr 3e-4 the
    fine-tuned solution gains 0.5 (SR x4), 0.6 (inpainting) and 5.9 dB (CS) over the latent
    fit and is level on SR x8 (-0.002 dB), the least loss of every setting tried there.

    >>> import torch
    >>> from eglass import models, operators
    >>> G = models.load_generator("mnist-dcgan")
    >>> A = operators.SuperResolution(8)
    >>> x = G(torch.randn(2, 64, generator=torch.Generator().manual_seed(0)))
    >>> y = A(x)
    >>> result = invert(G, A, y, "latent", steps=100, progress=False)
    >>> result.z.shape, bool(result.errors.max() < 1e-2)
    (torch.Size([2, 64]), True)
    """
    if method not in INVERSION_METHODS:
        raise ValueError(f"method must be one of {INVERSION_METHODS}, got {method!r}")
    check_positive_int("restarts", restarts)
    check_positive_int("steps", steps)
    _check_positive("lr", lr)
    if method == "iagan":
        _check_budget(finetune_steps, lr_generator, lr_latent)
    p = _Fit(problem, tol, prior_weight, noise_sigma, back_project)
    d, n, y = p.d, p.n, p.y

    with stopwatch() as elapsed:
        # Latent fit: R*N latents in one Adam, row r*N + i fits measurement i.
        z_all = _starts(p, restarts, seed, init)
        restarts = z_all.shape[0] // n
        y_rep = y.repeat(restarts, *([1] * (y.ndim - 1)))

        def latent_errors(z):
            e = measurement_error(p.A, p.generate(z), y_rep)
            return e, e + p.prior(z)

        (z_all,), hist = _adam(
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
    return _finetune(p, result, finetune_steps, lr_generator, lr_latent, progress)


def first_guess(
    problem: InverseProblem, encoder: nn.Module | str = "mnist-encoder"
) -> torch.Tensor:
    r"""An encoder's latents for the problem's measurements, :math:`E(A^\dagger y)` ``(N, d)``.

    ``encoder``: a :class:`eglass.models.LatentEncoder` (or any module mapping images
    ``(N, C, H, W)`` to ``(N, d)``), or a registry name for :func:`eglass.models.load_encoder`.
    The shipped ``"mnist-encoder"`` was trained for ``mnist-dcgan`` only: with another
    generator its guess is just a start for :func:`fast_start` to refine."""
    if isinstance(encoder, str):
        from .models import load_encoder

        encoder = load_encoder(encoder, device=problem.device)
    A = problem.operator
    if not callable(getattr(A, "A_dagger", None)):
        raise TypeError(f"the encoder reads A^+ y, and {type(A).__name__} has no A_dagger; "
                        "use invert(problem, 'latent') instead")
    d = problem.latent_dim
    if getattr(encoder, "latent_dim", d) != d:
        raise ValueError(f"the encoder gives {encoder.latent_dim}-d latents, the generator "
                         f"takes latent_dim={d}")
    with torch.no_grad():
        z = encoder(A.A_dagger(problem.y).to(problem.dtype))
    if z.shape != (problem.n, d):
        raise ValueError(f"the encoder returned {format_shape(z.shape)}, expected "
                         f"({problem.n},{d}) latents for {problem.n} measurement(s)")
    return check_finite("the encoder's latents", z)


@accepts_problem("A", "y")
def fast_start(
    problem: InverseProblem,
    *,
    encoder: nn.Module | str | None = "mnist-encoder",
    steps: int = 150,
    lr: float = 0.05,
    finetune_steps: int = 300,
    lr_generator: float = 3e-4,
    lr_latent: float = 1e-4,
    tol: float = 3e-4,
    noise_sigma: float | None = None,
    back_project: bool = False,
    fallback: bool = True,
    seed: int | torch.Generator = 0,
    progress: bool = False,
) -> InversionResult:
    r"""A first solution fast: an amortized guess, refined only as far as needed.

    1. :func:`first_guess`: the encoder's latent :math:`E(A^\dagger y)` (one pass of a small
       network; ``encoder=None``: one Gaussian start from ``seed``);
    2. the latent fit of :func:`invert` from that one start, stopped as soon as the error is
       ``<= tol`` (at most ``steps``);
    3. only for measurements still above ``tol``: IAGAN's fine-tuning (:func:`finetune`,
       early-stopped the same way);
    4. with ``fallback``, only for measurements still above the strict feasibility level
       :data:`eglass.evaluate.TAU_STRICT` (with ``noise_sigma``: above twice the noise's
       expected error :math:`\sigma^2/4` if that is higher): the full inversion
       (:func:`invert` with its defaults and ``seed``), whose solution replaces theirs
       (``z``, ``x``, ``errors``, generators; ``history`` then continues with the full
       inversion's, padded with its last row). On the held-out digits this happened once
       in 40, for compressed sensing, an operator the shipped encoder was not trained on.

    ``noise_sigma`` stops every stage at the discrepancy level, as in :func:`invert`.

    Same ``tol`` as :func:`invert`'s default, so the same feasibility (``tests/test_encoder.py``
    checks it on the held-out digits of ``tests/test_inversion.py``). On SR x8 it stops after
    a few tens of latent steps from one start where the full inversion runs four; on the
    inpainting box the latent fit runs its ``steps`` and a few fine-tuning steps finish it.
    ``benchmarks/solutions.py`` measured 0.065 s (SR x8) and 0.53 s (inpainting) against
    0.30 s and 1.27 s for the full inversion (medians over ten digits, one thread).

    >>> import torch
    >>> from eglass import data, models, operators
    >>> digits, _ = data.mnist("test")
    >>> A = operators.SuperResolution(8)
    >>> problem = InverseProblem(models.load_generator(), A, A(digits[:1]))
    >>> bool(fast_start(problem).errors.item() <= 3e-4)
    True
    """
    init = None if encoder is None else first_guess(problem, encoder)
    noise = dict(tol=tol, noise_sigma=noise_sigma, back_project=back_project,
                 progress=progress)
    result = invert(problem, "latent", restarts=1, steps=steps, lr=lr, seed=seed, init=init,
                    **noise)
    stop = tol if noise_sigma is None else max(tol, noise_sigma**2 / 4)
    if not bool((result.errors <= stop).all()):
        result = finetune(problem, result, steps=finetune_steps, lr_generator=lr_generator,
                          lr_latent=lr_latent, **noise)
    limit = TAU_STRICT if noise_sigma is None else max(TAU_STRICT, noise_sigma**2 / 2)
    failed = (result.errors > limit).nonzero().flatten()
    if not fallback or len(failed) == 0:
        return result
    full = invert(replace(problem, y=problem.y[failed]), "iagan", seed=seed, **noise)
    return _replace_rows(result, full, failed)


def _replace_rows(result: InversionResult, full: InversionResult, rows: torch.Tensor):
    """``result`` with the measurements ``rows`` taken from ``full`` (their own inversion)."""
    def put(into, part):
        if into is None:
            return None
        out = into.clone()
        out[rows.to(out.device)] = part.to(out)
        return out

    steps = max(len(result.history), len(full.history))

    def padded(h):
        return torch.cat([h, h[-1:].expand(steps - len(h), -1)])

    history = padded(result.history)
    history[:, rows] = padded(full.history)
    generators = list(result.generators)
    for i, g in zip(rows.tolist(), full.generators, strict=True):
        generators[i] = g
    return replace(result, z=put(result.z, full.z), generators=generators,
                   x=put(result.x, full.x), x_bp=put(result.x_bp, full.x_bp),
                   errors=put(result.errors, full.errors), history=history,
                   z_latent=put(result.z_latent, full.z_latent),
                   x_latent=put(result.x_latent, full.x_latent),
                   seconds=result.seconds + full.seconds, method="iagan")


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
    _check_budget(steps, lr_generator, lr_latent, names=("steps", "lr_generator", "lr_latent"))
    p = _Fit(problem, tol, prior_weight, noise_sigma, back_project)
    if start.z_latent.shape != (p.n, p.d):
        raise ValueError(
            f"start.z_latent has shape {format_shape(start.z_latent)} but y holds {p.n} "
            f"measurement(s) for a generator with latent_dim {p.d}; expected ({p.n},{p.d})"
        )
    return _finetune(p, start, steps, lr_generator, lr_latent, progress)


class _Fit:
    """The problem with the settings shared by the latent fit and the fine-tuning; the
    generator's weights enter as plain tensors, so no gradient ever reaches the user's G."""

    def __init__(self, problem: InverseProblem, tol, prior_weight, noise_sigma, back_project):
        if tol is not None and not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"tol must be a finite number >= 0 or None, got {tol}")
        if not (math.isfinite(prior_weight) and prior_weight >= 0):
            raise ValueError(f"prior_weight must be a finite number >= 0, got {prior_weight}")
        if noise_sigma is not None and not (math.isfinite(noise_sigma) and noise_sigma >= 0):
            raise ValueError(f"noise_sigma must be a finite number >= 0 or None, got {noise_sigma}")
        G, A = problem.generator, problem.operator
        training = [name or type(G).__name__ for name, m in G.named_modules() if m.training]
        if training:
            raise ValueError(
                f"the generator must be in eval mode (call G.eval()); modules in training "
                f"mode: {training[:3]}. In training mode BatchNorm would mix the random starts."
            )
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
        return functional_call(self.G, (params or self.params, self.buffers), (z,))

    def prior(self, z: torch.Tensor) -> torch.Tensor:
        if not self.prior_weight:
            return z.new_zeros(z.shape[0])
        return self.prior_weight * z.pow(2).mean(dim=1)

    def back_project(self, x: torch.Tensor) -> torch.Tensor | None:
        return back_project(self.A, x, self.y) if self.with_bp else None


def _finetune(
    p: _Fit, start: InversionResult, steps: int, lr_g: float, lr_z: float, progress: bool
) -> InversionResult:
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
        tensors, hist = _adam(
            groups, joint_errors, steps, p.stop, 1, n, progress, "iagan: fine-tune z and G"
        )
        z, fitted = tensors[0], dict(zip(names, tensors[1:], strict=True))
        generators = [_copy_with(G, {k: v[i] for k, v in fitted.items()}) for i in range(n)]
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


def compare_solutions(
    result: InversionResult, A, y: torch.Tensor, x_true: torch.Tensor | None = None
) -> dict[str, dict[str, torch.Tensor]]:
    r"""The candidate images of an inversion, with their measurement errors and PSNRs.

    Candidates: ``"latent"`` (:math:`G(z_{latent})`), ``"latent + BP"`` and, for an IAGAN
    result, ``"iagan"`` (:math:`G_{ft}(z)`) and ``"iagan + BP"``; BP is :func:`back_project`.

    Args:
        result: an :class:`InversionResult` for measurements ``y``.
        A: the operator used for the inversion.
        y: measurements ``(N, ...)``.
        x_true: the true images ``(N, C, H, W)`` if known (then ``"psnr"`` is filled in).

    Returns:
        ``{candidate: {"x": (N,C,H,W), "error": (N,), "psnr": (N,) or absent}}``.
    """
    A = as_operator(A)
    images = {"latent": result.x_latent}
    if result.method == "iagan":
        images["iagan"] = result.x
    if callable(getattr(A, "A_dagger", None)):
        for name in list(images):
            images[f"{name} + BP"] = back_project(A, images[name], y)
    out = {}
    with torch.no_grad():
        for name, x in images.items():
            out[name] = {"x": x, "error": measurement_error(A, x, y)}
            if x_true is not None:
                out[name]["psnr"] = psnr(x, x_true)
    return out


def candidates_table(
    comparisons: dict[str, dict[str, dict[str, torch.Tensor]]], tau: float = TAU_STRICT
):
    """A table (``pandas.DataFrame``) of :func:`compare_solutions` outputs, one per problem.

    Rows ``(problem, candidate)``; columns: mean measurement error, the share of images with
    error ``<= tau``, and the mean and standard deviation of the PSNR to the truth (dB).
    """
    import pandas as pd

    rows = []
    for problem, comparison in comparisons.items():
        for name, c in comparison.items():
            row = {
                "problem": problem,
                "solution": name,
                "error (mean)": c["error"].mean().item(),
                f"share error <= {tau:g}": (c["error"] <= tau).float().mean().item(),
            }
            if "psnr" in c:
                row["PSNR dB (mean)"] = c["psnr"].mean().item()
                row["PSNR dB (std)"] = c["psnr"].std().item() if len(c["psnr"]) > 1 else 0.0
            rows.append(row)
    return pd.DataFrame(rows).set_index(["problem", "solution"])


def benchmark_problems(image_shape: tuple[int, int, int] = (1, 32, 32)) -> dict:
    """The four inverse problems the book inverts digits on, by name -> operator.

    ``"SR x4"``, ``"SR x8"`` (box down-scaling), ``"inpainting (box)"`` (a central 12x12
    box hidden, for 32x32 images scaled with the image size) and ``"CS (m=100)"``
    (100 Gaussian measurements, seed 0).
    """
    from .operators import CompressedSensing, Inpainting, SuperResolution, box_mask

    _, h, w = image_shape
    box = (round(12 * h / 32), round(12 * w / 32))
    return {
        "SR x4": SuperResolution(4),
        "SR x8": SuperResolution(8),
        "inpainting (box)": Inpainting(box_mask((h, w), box)),
        "CS (m=100)": CompressedSensing(100, image_shape, seed=0),
    }


def _adam(
    groups: list[tuple[torch.Tensor, float]],
    errors_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    stop: float,
    restarts: int,
    n: int,
    progress: bool,
    desc: str,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Adam on tensors whose leading dim is ``restarts * n`` rows (row ``r*n + i`` fits
    measurement ``i``); a measurement is frozen once one of its rows has error ``<= stop``.

    Returns the final tensors and the errors after each step ``(T + 1, restarts, n)``.
    """
    tensors = [t.detach().clone().requires_grad_(True) for t, _ in groups]
    lrs = [lr for _, lr in groups]
    opt = torch.optim.Adam([{"params": [t], "lr": lr} for t, lr in zip(tensors, lrs, strict=True)])
    frozen = [t.detach().clone() for t in tensors]
    done = torch.zeros(n, dtype=torch.bool, device=tensors[0].device)
    history = []
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False)
    for step in range(steps + 1):
        errs, loss = errors_fn(*tensors)
        errs = errs.detach().view(restarts, n)
        history.append(errs)
        newly = (errs.min(dim=0).values <= stop) & ~done
        if step == steps or bool((done | newly).all()):
            break
        if newly.any():
            rows = newly.repeat(restarts)
            with torch.no_grad():
                for f, t in zip(frozen, tensors, strict=True):
                    f[rows] = t[rows]
            done |= newly
        opt.zero_grad(set_to_none=True)
        loss.view(restarts, n)[:, ~done].sum().backward()
        opt.step()
        if done.any():
            rows = done.repeat(restarts)
            with torch.no_grad():
                for f, t in zip(frozen, tensors, strict=True):
                    t[rows] = f[rows]
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(worst=f"{errs.min(dim=0).values.max().item():.2e}")
    bar.close()
    hist = torch.stack(history)  # frozen rows were restored, so their errors stay put
    return [t.detach() for t in tensors], hist


def _copy_with(G: nn.Module, params: dict[str, torch.Tensor]) -> nn.Module:
    """A deep copy of ``G`` in eval mode holding ``params``, with ``requires_grad=False``."""
    g = copy.deepcopy(G).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            p.copy_(params[name])
    g.requires_grad_(False)
    return g


def _check_measurements(y: torch.Tensor, expected: torch.Size | tuple, what: str) -> None:
    expected = tuple(expected)
    ok = y.ndim == len(expected) and tuple(y.shape[1:]) == expected[1:]
    if not ok or y.shape[0] not in (expected[0], 1):
        want = "(N," + ",".join(str(s) for s in expected[1:]) + ")"
        raise ValueError(f"y has shape {format_shape(y)} but {what} has shape {want}; "
                         f"expected {want}")


def _starts(p: _Fit, restarts: int, seed, init: torch.Tensor | None) -> torch.Tensor:
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


def _check_budget(steps, lr_generator, lr_latent, names=None) -> None:
    names = names or ("finetune_steps", "lr_generator", "lr_latent")
    check_positive_int(names[0], steps)
    _check_positive(names[1], lr_generator)
    _check_positive(names[2], lr_latent)


def _check_positive(name: str, value) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")

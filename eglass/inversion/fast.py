r"""The fast start: an encoder's guess :math:`E(A^\dagger y)` (:func:`first_guess`), refined
only as far as needed (:func:`fast_start`).

Which encoder: the one of the prior the generator was loaded through
(:func:`eglass.priors.prior_of`), unless the call names one; a generator without one starts
from a Gaussian draw, with the same refinement and fallback.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers

import torch
from torch import nn

from ..evaluate import TAU_STRICT
from ..models import load_encoder
from ..priors import prior_of
from ..problem import InverseProblem, accepts_problem
from ..utils import check_eval_mode, check_finite, format_shape
from .finetune import finetune
from .fit import check_budget
from .invert import invert
from .result import InversionResult

__all__ = ["check_encoder_fits", "first_guess", "fast_start", "resolve_encoder"]


def resolve_encoder(problem: InverseProblem, encoder=None) -> nn.Module | None:
    """The encoder module to run for ``encoder``, on the problem's device, or ``None`` for a
    Gaussian start.

    ``None``: the encoder of the prior the generator was loaded through (``None`` if it was
    not loaded through a prior, or its prior has none); ``False``: none; a string: the
    encoder of that registry name (:func:`eglass.models.load_encoder`); an ``nn.Module``:
    itself (its batch-norm and dropout layers must be in eval mode; it is never switched).
    Loaded encoders are kept (a prior keeps its own), so none is read from disk twice.
    The encoder must fit the generator (:func:`check_encoder_fits`).
    """
    if encoder is None:
        prior = prior_of(problem.generator)
        found = None if prior is None else prior.fast_start_encoder()
        return None if found is None else check_encoder_fits(
            _on_device(found, problem.device), problem)
    if encoder is False:
        return None
    if isinstance(encoder, str):
        return check_encoder_fits(_named_encoder(encoder, str(problem.device)), problem)
    if isinstance(encoder, nn.Module):
        check_eval_mode(encoder, what="encoder", symbol="encoder")
        return check_encoder_fits(encoder, problem)
    raise TypeError(
        "encoder must be an nn.Module mapping images (N,C,H,W) to latents (N,d), the registry "
        "name of a shipped encoder (a str), None (the encoder of the generator's prior, if "
        f"any) or False (a Gaussian start); got {type(encoder).__name__} {encoder!r}"
    )


def check_encoder_fits(encoder: nn.Module, problem: InverseProblem) -> nn.Module:
    """``encoder`` if what it declares fits the problem's generator, a ``ValueError`` naming
    both otherwise: its ``input_shape`` ``(C, H, W)`` must be the generator's image shape
    and its ``latent_dim`` the generator's (a module that declares neither is run as is)."""
    shape, d = getattr(encoder, "input_shape", None), getattr(encoder, "latent_dim", None)
    wanted = problem.image_shape, problem.latent_dim
    if (shape is None or tuple(shape) == wanted[0]) and (d is None or d == wanted[1]):
        return encoder
    says = [f"reads images {format_shape(('N', *shape))}"] if shape is not None else []
    says += [f"gives {d}-d latents"] if d is not None else []
    raise ValueError(
        f"the encoder {type(encoder).__name__} does not fit this generator: it "
        f"{' and '.join(says)}; the generator makes images {format_shape(('N', *wanted[0]))} "
        f"and takes latent_dim={wanted[1]}")


@functools.lru_cache(maxsize=8)
def _named_encoder(name: str, device: str) -> nn.Module:
    return load_encoder(name, device=torch.device(device))


@functools.lru_cache(maxsize=8)
def _moved(encoder: nn.Module, device: str) -> nn.Module:
    return copy.deepcopy(encoder).to(device)


def _on_device(encoder: nn.Module, device: torch.device) -> nn.Module:
    """``encoder`` itself if its weights are on ``device``, else a kept copy moved there
    (a prior's encoder is shared: it is never moved in place)."""
    param = next(iter(encoder.parameters()), None)
    if param is None or param.device == device:
        return encoder
    return _moved(encoder, str(device))


def first_guess(problem: InverseProblem, encoder: nn.Module | str | None = None) -> torch.Tensor:
    r"""An encoder's latents for the problem's measurements, :math:`E(A^\dagger y)` ``(N, d)``.

    ``encoder``: ``None`` for the encoder of the prior the generator was loaded through
    (:func:`eglass.priors.prior_of`), a :class:`eglass.models.LatentEncoder` (or any module
    mapping images ``(N, C, H, W)`` to ``(N, d)``), or a registry name for
    :func:`eglass.models.load_encoder` (see :func:`resolve_encoder`). An encoder trained for
    another generator gives just a start for :func:`fast_start` to refine."""
    module = resolve_encoder(problem, encoder)
    if module is None:
        raise ValueError(
            "first_guess needs an encoder: this generator was not loaded through a prior "
            "that has one (eglass.priors.prior_of); pass encoder= (a module or a registry name)"
        )
    A = problem.A
    if not callable(getattr(A, "A_dagger", None)):
        raise TypeError(f"the encoder reads A^+ y, and {type(A).__name__} has no A_dagger; "
                        "use invert(problem, 'latent') instead")
    d = problem.latent_dim
    with torch.no_grad():
        z = module(A.A_dagger(problem.y).to(problem.dtype))
    if z.shape != (problem.n, d):
        raise ValueError(f"the encoder returned {format_shape(z.shape)}, expected "
                         f"({problem.n},{d}) latents for {problem.n} measurement(s)")
    return check_finite("the encoder's latents", z)


def check_seed(seed) -> None:
    """A TypeError unless ``seed`` is an integer (not a bool) or a ``torch.Generator``
    (checked even where no random start is drawn)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral | torch.Generator):
        raise TypeError(f"seed must be an int or a torch.Generator, got "
                        f"{type(seed).__name__} {seed!r}")


@accepts_problem("A", "y")
def fast_start(
    problem: InverseProblem,
    *,
    encoder: nn.Module | str | bool | None = None,
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
       network). ``encoder=None`` (default): the encoder of the prior the generator was
       loaded through, and one Gaussian start from ``seed`` where there is none;
       ``encoder=False``: the Gaussian start anyway; a module or a registry name: that
       encoder (:func:`resolve_encoder`);
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

    >>> from eglass import operators
    >>> from eglass.priors import get_prior
    >>> prior = get_prior("mnist-dcgan")  # its generator carries its encoder
    >>> images, _ = prior.data("test")
    >>> A = operators.SuperResolution(8)
    >>> problem = InverseProblem(prior.generator(), A, A(images[:1]))
    >>> bool(fast_start(problem).errors.item() <= 3e-4)
    True
    """
    check_budget(finetune_steps, lr_generator, lr_latent)  # before any work, named as here
    check_seed(seed)
    module = resolve_encoder(problem, encoder)
    init = None if module is None else first_guess(problem, module)
    noise = dict(tol=tol, noise_sigma=noise_sigma, back_project=back_project,
                 progress=progress)
    result = invert(problem, "latent", restarts=1, steps=steps, lr=lr, seed=seed, init=init,
                    **noise)
    stop = -math.inf if tol is None else tol  # tol=None: never stop early, as in invert
    stop = stop if noise_sigma is None else max(stop, noise_sigma**2 / 4)
    if not bool((result.errors <= stop).all()):
        result = finetune(problem, result, steps=finetune_steps, lr_generator=lr_generator,
                          lr_latent=lr_latent, **noise)
    limit = TAU_STRICT if noise_sigma is None else max(TAU_STRICT, noise_sigma**2 / 2)
    failed = (result.errors > limit).nonzero().flatten()
    if not fallback or len(failed) == 0:
        return result
    full = invert(problem.measurements(failed), "iagan", seed=seed, **noise)
    return result.with_rows(failed, full)

r"""One item of a batch run: the pipeline of :mod:`eglass.explore` on one measurement.

:func:`run_item` builds the item's problem (the prior's generator and default distance, the
config's operator), asks :func:`eglass.explore.starting_points` for the first solution and its
metrics (within the memory plan), runs every method of the config through
:func:`eglass.methods.run`, and returns numpy arrays and numbers only (what a Dask worker
sends back). It changes no process-wide setting: the thread count is the worker's (see
:func:`eglass.batch.make_client`) and the global torch random state is left as it was.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import methods
from ..evaluate import diversity, psnr
from ..explore import starting_points
from ..geometry import MEMORY_FRACTION
from ..memory import available_memory
from ..problem import InverseProblem
from .config import (
    BatchConfig,
    check_prior_fits,
    inversion_settings,
    item_seed,
    make_operator,
    method_settings,
)
from .prior import ItemModels, item_models

__all__ = ["run_item", "safe_item", "metrics_memory"]


def metrics_memory() -> int:
    """Bytes the metrics of one item may use: :data:`eglass.geometry.MEMORY_FRACTION` of the
    memory free now (so a large prior's metrics are planned in blocks rather than failing)."""
    return int(MEMORY_FRACTION * available_memory())


def run_item(config: BatchConfig | dict, index: int, y: np.ndarray,
             x_true: np.ndarray | None = None, *, sha256: str | None = None) -> dict:
    r"""The pipeline on one measurement ``y`` (as returned by :func:`eglass.batch.load_inputs`):
    the first solution of ``config.inversion`` and both metrics
    (:func:`eglass.explore.starting_points`), then every method of ``config``
    (:func:`eglass.methods.run`); numpy arrays only. ``sha256``: the digest the prior's
    weights must have (what the store recorded).

    Returns a dict of arrays ``z0 (1, d)``, ``x0 (1, C, H, W)``, ``z (N, d)``, ``x (N, C,
    H, W)``, ``errors (N,)``, ``feasible (N,)`` (``errors <= tau``), ``method (N,)`` (index
    into ``config.methods``), ``mean``, ``std`` (``(C, H, W)`` over ``x0`` and the feasible
    solutions) and the numbers ``seed``, ``seconds``, ``x0_error``, ``tau`` (the level
    used: ``config.tau``, or the noise's), ``diversity`` (mean
    pairwise perceptual distance of the feasible ones), ``classes`` (distinct classes among
    them, for a prior with a classifier; else ``None``), and with ``x_true``:
    ``within_spread`` (the fraction of pixels with :math:`|x_{true} - \mu| \le 2\sigma`) and
    ``x0_psnr``.
    """
    start = time.perf_counter()
    config = BatchConfig.from_dict(config) if isinstance(config, dict) else config
    with torch.random.fork_rng(devices=[]):
        models = item_models(config)
        check_prior_fits(config, models.prior)  # before any work, as run checks it
        if sha256 is not None and models.sha256 not in (None, sha256):
            raise ValueError(f"the prior's weights changed during the run: SHA-256 "
                             f"{models.sha256}, the store has {sha256}")
        seed = item_seed(config.seed, index)
        A = make_operator(config, models.image_shape)
        problem = InverseProblem(models.generator, A, torch.as_tensor(np.asarray(y))[None],
                                 distance=models.distance, noise=config.noise or None)
        (point,) = starting_points(problem, method=config.inversion,
                                   max_memory=metrics_memory(),
                                   **inversion_settings(config, seed))
        # the config's settings; methods.run resolves the rest (the prior's, the method's)
        parts = [methods.run(name, point, **method_settings(config, name, seed))
                 for name in config.methods]
        out = _summary(config, problem, point, parts, models, x_true)
    out["seed"] = seed
    out["seconds"] = time.perf_counter() - start
    return out


def _summary(config: BatchConfig, problem: InverseProblem, point, parts, models: ItemModels,
             x_true: np.ndarray | None) -> dict:
    """The item's arrays and numbers from its starting point and each method's solutions."""
    with torch.no_grad():
        z = torch.cat([s.z for s in parts])
        x = torch.cat([s.x for s in parts])
        errors = torch.cat([s.errors for s in parts])
        method = torch.cat([torch.full((len(s),), m, dtype=torch.int8)
                            for m, s in enumerate(parts)])
        tau = problem.tau if config.tau is None else config.tau
        feasible = errors <= tau
        x0 = point.x0
        x0_error = float(problem.error(x0)[0])
        pool = torch.cat([x0, x[feasible]]) if x0_error <= tau else x[feasible]
        if len(pool):
            mean, std = pool.mean(0), pool.std(0, unbiased=False)
        else:
            mean = std = torch.full(x.shape[1:], float("nan"))
        div = diversity(x, models.distance, models.classifier, mask=feasible)
    out = dict(
        z0=point.z0.numpy(), x0=x0.numpy(), z=z.numpy(), x=x.numpy(),
        errors=errors.numpy(), feasible=feasible.numpy(), method=method.numpy(),
        mean=mean.numpy(), std=std.numpy(), x0_error=x0_error, tau=tau,
        diversity=div.mean_distance, classes=div.classes, n_feasible=int(feasible.sum()),
    )
    if x_true is not None:
        truth = torch.as_tensor(np.asarray(x_true))
        out["within_spread"] = float(((truth - mean).abs() <= 2 * std).float().mean())
        out["x0_psnr"] = float(psnr(x0, truth[None])[0])
    return out


def safe_item(config: dict, index: int, y, x_true, sha256: str | None = None) -> dict:
    """:func:`run_item`, with an exception returned as ``{"error": message}`` (one item's
    failure must not stop the run)."""
    try:
        return run_item(config, index, y, x_true, sha256=sha256)
    except Exception as err:  # noqa: BLE001 - one item's failure must not stop the run
        return {"error": f"{type(err).__name__}: {err}"}

r"""Explore a whole test set: one run over many measurements, on Dask, into a Zarr store.

A :class:`BatchConfig` says what to solve (operator, noise), on what (the prior's own
held-out data set, samples of the prior, a folder of PNGs, a ``.npy`` or a Zarr array of
images or of measurements), with which prior (any :func:`eglass.priors.get_prior` reference:
``"mnist-dcgan"``, ``"pggan:PATH"``, ``"biggan:FOLDER?class=207"``, a checkpoint file) and
methods (e-GLASS, the walk, PULSE) and budgets. :func:`run_item` runs the pipeline of
:mod:`eglass.explore` on one measurement and returns numpy arrays; :func:`run` submits every
item to a ``dask.distributed`` client (by default a :class:`distributed.LocalCluster` of
single-threaded worker processes) and writes each result into the store as it arrives;
:func:`report` summarizes a store. ``eglass run`` / ``eglass report`` (:mod:`eglass.cli`) are
the same calls from the command line.

The store (Zarr v3): root attributes ``config`` (:meth:`BatchConfig.to_dict`) and
``metadata`` (versions, the prior and its weights' SHA-256, seed); one group per item,
``items/00012``, with the arrays ``y``, ``x_true`` (when known), ``z0``, ``x0`` (the first
solution), ``z``, ``x``, ``errors``, ``feasible``, ``method`` (index into
``config["methods"]``), ``mean`` and ``std`` (per pixel, over the feasible solutions and
``x0``), and attributes ``index``, ``name``, ``seed``, ``seconds``, the diversity figures
and, last of all, ``done = True``. Only the client process writes (Zarr's local store
replaces each file atomically). A group without ``done`` (a run killed mid-write, or an item
that failed) is rewritten on the next run, a group with it is skipped: re-running the same
command resumes; a store written by another config, or with other weights of the prior, is
refused. Each item's seed is :func:`item_seed` ``(seed, index)``: results do not depend on
which worker ran an item, or when.

Modules: :mod:`~eglass.batch.config` (the config and what its fields feed),
:mod:`~eglass.batch.prior` (the prior, its digest, a worker's models),
:mod:`~eglass.batch.data` (the items), :mod:`~eglass.batch.item` (one item's pipeline),
:mod:`~eglass.batch.store` (the Zarr store), :mod:`~eglass.batch.runner` (the Dask run),
:mod:`~eglass.batch.workers` (the workers' start-up), :mod:`~eglass.batch.report` (the
report and its figure).
"""

from .config import (
    BATCH_METHODS,
    DATA_KINDS,
    INVERSION_SETTINGS,
    INVERSIONS,
    METHOD_SETTINGS,
    OPERATOR_OPTIONS,
    OPERATORS,
    PRIOR_DATA,
    SAMPLES,
    BatchConfig,
    inversion_settings,
    item_seed,
    make_operator,
    method_settings,
    operator_options,
)
from .data import load_inputs, read_png, source, to_images
from .item import run_item, safe_item
from .lock import StoreLocked, store_lock
from .prior import ItemModels, describe_prior, item_models, load_prior, prior_digest, resolve_prior
from .report import report, uncertainty_sheet
from .runner import RunSummary, make_client, run
from .store import (
    FORMAT,
    ConfigMismatch,
    done_items,
    item_states,
    open_store,
    read_item,
    write_item,
)

__all__ = [
    "OPERATORS",
    "BATCH_METHODS",
    "BatchConfig",
    "ConfigMismatch",
    "RunSummary",
    "item_seed",
    "make_operator",
    "load_prior",
    "load_inputs",
    "run_item",
    "run",
    "make_client",
    "open_store",
    "read_item",
    "done_items",
    "report",
    "uncertainty_sheet",
    # added with the package
    "DATA_KINDS",
    "INVERSIONS",
    "FORMAT",
    "PRIOR_DATA",
    "SAMPLES",
    "OPERATOR_OPTIONS",
    "INVERSION_SETTINGS",
    "METHOD_SETTINGS",
    "operator_options",
    "inversion_settings",
    "method_settings",
    "ItemModels",
    "item_models",
    "resolve_prior",
    "prior_digest",
    "describe_prior",
    "source",
    "to_images",
    "read_png",
    "safe_item",
    "write_item",
    # added with the store's guards
    "StoreLocked",
    "store_lock",
    "item_states",
]

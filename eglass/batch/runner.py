"""The run: every item of a config not yet done in its store, on ``dask.distributed``.

:func:`make_client` starts (or connects to) the cluster; its workers run torch on one thread
each (set once when a worker starts, by :class:`eglass.batch.workers.OneThread`: library
code never changes the thread count). :func:`run` reads the items in the client, submits one
task per item and writes each result into the store as it arrives (only the client writes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field

from ..utils import check_positive_int, progress_bar
from .config import BatchConfig, check_prior_fits, make_operator
from .data import item_indices, load_inputs, source
from .item import safe_item
from .lock import store_lock
from .prior import describe_prior, image_shape_of, prior_digest, resolve_prior
from .store import done_items, open_store, write_item

__all__ = ["RunSummary", "make_client", "run", "prepare", "check_workers"]


@dataclass
class RunSummary:
    """What :func:`run` did: ``done`` items now in the store (of ``total``), the ``skipped``
    ones (already done), ``failed`` ones as ``{index: message}``, and wall ``seconds``."""

    store: str
    total: int
    done: int
    skipped: int
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and self.done == self.total


def make_client(workers: int | None, scheduler: str | None):
    """``(client, cluster or None)``: a client of ``scheduler`` or of a new LocalCluster of
    ``workers`` single-threaded processes (default: one per CPU core). The workers run torch
    on one thread (:class:`eglass.batch.workers.OneThread`)."""
    from distributed import Client, LocalCluster

    from .workers import one_thread_per_worker

    if scheduler is not None:
        try:
            client, cluster = Client(scheduler), None
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise ValueError(f"cannot reach the Dask scheduler {scheduler!r} "
                             f"({type(err).__name__}: {err}); give --scheduler "
                             f"tcp://HOST:PORT of a running scheduler, or leave it out for "
                             f"a LocalCluster") from err
    else:
        import dask

        n = check_workers(workers) if workers is not None else max(1, os.cpu_count() or 1)
        # Two Dask defaults slow torch items down, so our own workers drop them: the
        # statistical profiler (samples the task thread every 10 ms under the GIL; items
        # ~1.3x slower) and the nanny's MALLOC_TRIM_THRESHOLD_=65536 (glibc returns freed
        # memory at once, and torch's many short-lived tensors pay for it: items ~1.7x
        # slower than in a plain loop).
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    one_thread_per_worker(client)
    return client, cluster


def check_workers(workers) -> int:
    """``workers`` as a positive int, or a ValueError naming ``--workers`` (0 workers would
    wait forever)."""
    return check_positive_int("workers (--workers)", workers)


def prepare(config: BatchConfig):
    """``(prior, names, indices)``: everything about ``config`` checked before its store is
    touched: the prior (loaded), the operator for its images, ``Ks`` within its latent size,
    the data and the items' range. A refused config leaves no file behind."""
    prior = resolve_prior(config)
    check_prior_fits(config, prior)
    make_operator(config, image_shape_of(prior))  # refuses e.g. a factor that does not divide
    names = source(config, prior)[0]
    return prior, names, list(item_indices(config, names))


def _submit_all(client, config: BatchConfig, inputs: dict, todo: list[int],
                sha256: str | None) -> dict:
    """One task per item; task keys name the run (config and store), so that runs sharing
    a cluster never share a task."""
    cfg = config.to_dict()
    token = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    return {client.submit(safe_item, cfg, i, inputs[i]["y"], inputs[i]["x_true"], sha256,
                          key=f"eglass-item-{i:05d}-{token}", pure=False): i
            for i in todo}


def _run_on(client, root, config: BatchConfig, inputs: dict, todo: list[int],
            sha256: str | None, bar) -> dict[int, str]:
    """Run ``todo`` on ``client``, writing each result as it arrives; the failures."""
    from distributed import as_completed

    failed = {}
    futures = _submit_all(client, config, inputs, todo, sha256)
    for future in as_completed(futures):
        i = futures[future]
        result = future.result()
        write_item(root, i, inputs[i], result)
        if "error" in result:
            failed[i] = result["error"]
        bar.update(1)
    return failed


def run(config: BatchConfig, *, client=None, workers: int | None = None,
        scheduler: str | None = None, progress: bool = True) -> RunSummary:
    """Run every item of ``config`` not yet done in its store, on Dask.

    Args:
        config: the run (its ``store`` is created, or resumed if it holds this config and
            the same weights of the prior).
        client: a ``distributed.Client`` to use (left open); otherwise one of ``scheduler``
            (``"tcp://HOST:PORT"``) or of a new ``LocalCluster`` of ``workers``
            single-threaded processes, closed at the end (:func:`make_client`).
        progress: a tqdm bar over the items as they complete.

    Returns:
        :class:`RunSummary`. Items that cannot be read or whose pipeline raised are in
        ``failed`` (and in the store with their ``error``, without ``done``).
    """
    begin = time.perf_counter()
    if client is None and scheduler is None and workers is not None:
        check_workers(workers)
    prior, names, indices = prepare(config)
    with store_lock(config.store):
        return _run_locked(config, prior, names, indices, client, workers, scheduler,
                           progress, begin)


def _run_locked(config: BatchConfig, prior, names, indices, client, workers, scheduler,
                progress: bool, begin: float) -> RunSummary:
    """:func:`run` once its config is checked and its store's lock is held."""
    sha256 = prior_digest(prior)
    root = open_store(config, sha256, prior=describe_prior(prior))
    done = done_items(root)
    pending = [i for i in indices if i not in done]
    inputs = load_inputs(config, pending, image_shape_of(prior)) if pending else {}
    failed = {i: v for i, v in inputs.items() if isinstance(v, str)}
    for i, message in failed.items():
        write_item(root, i, {"name": names[i]}, {"error": message})
    todo = [i for i in pending if i not in failed]
    if todo:
        own = client is None
        cluster = None
        if own:
            client, cluster = make_client(workers, scheduler)
        bar = progress_bar(total=len(indices), initial=len(done), desc="measurements",
                           unit="item", enabled=progress)
        try:
            failed.update(_run_on(client, root, config, inputs, todo, sha256, bar))
        finally:
            bar.close()
            if own:
                client.close()
                if cluster is not None:
                    cluster.close()
    return RunSummary(store=str(config.store), total=len(indices),
                      done=len(done_items(root) & set(indices)), skipped=len(done),
                      failed=dict(sorted(failed.items())),
                      seconds=time.perf_counter() - begin)


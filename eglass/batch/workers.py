"""The start-up of a batch run's Dask workers: torch on one thread per worker process.

The workers are the parallelism of a run; several torch threads in each would oversubscribe
the cores. :class:`OneThread` sets the thread count once, in the worker process, when it
starts (a worker restarted after a crash included), so that library code never has to.
Imported only where a cluster is made: it needs ``distributed``.
"""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["OneThread", "one_thread_per_worker"]


class OneThread(WorkerPlugin):
    """A worker plugin: ``torch.set_num_threads(1)`` in each worker process it reaches."""

    name = "eglass-one-thread"

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(1)


def one_thread_per_worker(client) -> None:
    """Register :class:`OneThread` with ``client``'s cluster (its workers now and later)."""
    client.register_plugin(OneThread(), name=OneThread.name)

"""Batch throughput: measurements per minute on Dask with 1 and 2 workers, and Dask's
per-measurement overhead against a plain loop (issue 19).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dataset.py [--count 20] [--repeats 2] [--prior P]

The same ``--count`` held-out digits (SR x8, IAGAN with 2 starts x 100 + 50 steps, e-GLASS
Ks 4,6,8 x 4 etas; the timed item is :func:`eglass.batch.run_item`) go through

* a **plain loop** in this process: ``run_item`` then the store write, one after another;
* :func:`eglass.batch.run` on a ``LocalCluster`` of **1** and of **2** single-threaded worker
  processes, writing the same store layout. Cluster start-up and warm-up (models loaded and
  one item run in every process, loop included: a process's first item costs about 2 s more)
  are timed apart.

Each setting runs ``--repeats`` times, interleaved; the fastest run counts (the machine is
shared). Throughput = items / wall time x 60. Scaling efficiency = rate(2 workers) / (2 x rate(1
worker)): 1 is perfect. Dask overhead per measurement = (time on 1 worker - loop time) /
items. The machine load average is recorded: on a shared 2-core machine the 2-worker number
depends on what else runs. Results: ``benchmarks/results/dataset.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from eglass import batch
from eglass.utils import stopwatch

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET = dict(restarts=2, steps=100, finetune_steps=50, Ks=(4, 6, 8),
              etas=(-3.0, -1.5, 1.5, 3.0), methods=("eglass",), seed=0)


def warm_up(config: batch.BatchConfig) -> None:
    """Load the models and run one item (the first call of the autograd and torch.func
    paths costs about 2 s), as every process does once."""
    item = batch.load_inputs(config, [config.start])[config.start]
    batch.run_item(config, config.start, item["y"], item["x_true"])


def plain_loop(config: batch.BatchConfig) -> float:
    """Seconds to run and store every item in this process, one after another (on one
    torch thread, as a worker runs)."""
    import torch

    _, sha = batch.load_prior(config.prior, config.prior_sha256)
    warm_up(config)
    root = batch.open_store(config, sha)
    inputs = batch.load_inputs(config)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with stopwatch() as seconds:
            for i, item in inputs.items():
                batch.write_item(root, i, item, batch.run_item(config, i, item["y"],
                                                               item["x_true"]))
    finally:
        torch.set_num_threads(threads)
    return seconds()


def on_dask(config: batch.BatchConfig, workers: int) -> dict:
    """Cluster start-up and run time of :func:`eglass.batch.run` on ``workers`` processes."""
    with stopwatch() as startup:
        client, cluster = batch.make_client(workers, None)
        client.run(warm_up, config)
    try:
        with stopwatch() as seconds:
            summary = batch.run(config, client=client, progress=False)
        assert summary.ok, summary.failed
    finally:
        client.close()
        cluster.close()
    return dict(startup_seconds=startup(), seconds=seconds())  # start-up includes warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="held-out digits per run")
    parser.add_argument("--prior", help="any eglass.priors reference (default: the default "
                        "prior; one without a data set runs on its samples)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each setting; the fastest counts (others share the CPU)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eglass-dataset-"))
    try:
        prior = {} if args.prior is None else {"prior": args.prior}
        base = batch.BatchConfig(count=args.count, **BUDGET, **prior)
        load_before = os.getloadavg()
        loops, ones, twos = [], [], []
        for r in range(args.repeats):  # interleaved, so that a busy spell hits all three
            loops.append(plain_loop(base.replace(store=str(work / f"loop{r}.zarr"))))
            ones.append(on_dask(base.replace(store=str(work / f"one{r}.zarr")), 1))
            twos.append(on_dask(base.replace(store=str(work / f"two{r}.zarr")), 2))
        load_after = os.getloadavg()
        loop = min(loops)
        one = min(ones, key=lambda t: t["seconds"])
        two = min(twos, key=lambda t: t["seconds"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.count
    rate = {k: 60 * n / v for k, v in (("loop", loop), ("1 worker", one["seconds"]),
                                       ("2 workers", two["seconds"]))}
    results = dict(
        items=n, prior=base.prior,
        budget={k: list(v) if isinstance(v, tuple) else v for k, v in BUDGET.items()},
        operator="sr x8", seconds=dict(loop=loop, one_worker=one, two_workers=two),
        all_runs=dict(loop=loops, one_worker=ones, two_workers=twos), repeats=args.repeats,
        measurements_per_minute=rate,
        scaling_efficiency=rate["2 workers"] / (2 * rate["1 worker"]),
        dask_overhead_seconds_per_measurement=(one["seconds"] - loop) / n,
        loop_seconds_per_measurement=loop / n,
        load_average_before=load_before, load_average_after=load_after,
        cpu_count=os.cpu_count(), platform=platform.platform(),
        python=platform.python_version(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dataset.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, value in rate.items():
        print(f"{name:>10}: {value:6.1f} measurements / min")
    print(f"scaling efficiency (2 workers vs 1): {results['scaling_efficiency']:.2f}")
    print(f"Dask overhead: {results['dask_overhead_seconds_per_measurement']:+.3f} s per "
          f"measurement (loop: {results['loop_seconds_per_measurement']:.2f} s each); "
          f"cluster start-up {one['startup_seconds']:.1f} s (1 worker), "
          f"{two['startup_seconds']:.1f} s (2 workers)")


if __name__ == "__main__":
    main()

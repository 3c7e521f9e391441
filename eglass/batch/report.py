r"""The report of a batch store: a JSON and a Markdown summary, and a sheet of uncertainty maps.

:func:`report` reads a store (it needs neither the prior nor the data, only the store) and
writes ``<store>-report.json``, ``<store>-report.md`` and ``<store>-uncertainty.png``;
:func:`uncertainty_sheet` is the figure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..utils import check_positive_int
from .config import PRIOR_DATA, BatchConfig
from .store import item_states, open_report_store, read_item

__all__ = ["report", "summarize_store", "markdown", "uncertainty_sheet"]


def _nanmean(values) -> float | None:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else None


def _tau(summary: dict) -> str:
    """The feasibility level of a run, and where it came from."""
    tau, c = summary["tau"], summary["config"]
    if tau is None:  # no item done, and the level comes from them
        return "–"
    if c["tau"] is not None or not c["noise"]:
        return f"{tau:g}"
    return f"{tau:.3g} from the noise {c['noise']:g}"


def summarize_store(root, store: str | Path) -> tuple[dict, list[dict]]:
    """``(summary, rows)``: the figures of :func:`report` and every done item
    (:func:`eglass.batch.read_item`)."""
    config = BatchConfig.from_dict(dict(root.attrs["config"]))
    states = item_states(root)
    failed = {str(i): m for i, (state, m) in sorted(states.items()) if state == "failed"}
    damaged = {str(i): m for i, (state, m) in sorted(states.items()) if state == "damaged"}
    rows = []
    for i in sorted(i for i, (state, _) in states.items() if state == "done"):
        try:
            rows.append(dict(read_item(root, i)))
        except (ValueError, KeyError, OSError, RuntimeError) as err:  # e.g. a cut chunk
            damaged[str(i)] = (f"its data is unreadable ({type(err).__name__}: {err}); not "
                               f"redone on resume: delete items/{i:05d} and re-run")
    damaged = dict(sorted(damaged.items(), key=lambda item: int(item[0])))
    summary = dict(
        store=str(store), config=config.to_dict(), metadata=dict(root.attrs["metadata"]),
        items=len(rows), failed=failed, damaged=damaged,
        tau=config.tau if config.tau is not None else _nanmean([r.get("tau") for r in rows]),
        feasible_fraction=_nanmean([float(np.mean(r["feasible"])) for r in rows]),
        items_with_a_feasible_solution=_nanmean([float(r["n_feasible"] > 0) for r in rows]),
        seconds_per_measurement=_nanmean([r["seconds"] for r in rows]),
        diversity=_nanmean([r.get("diversity") for r in rows]),
        classes=_nanmean([r.get("classes") for r in rows]),
        within_spread=_nanmean([r.get("within_spread") for r in rows]),
        within_spread_definition="fraction of pixels with |x_true - mean| <= 2 std over the "
                                 "feasible solutions (and x0 when feasible), mean over items",
        x0_psnr=_nanmean([r.get("x0_psnr") for r in rows]),
        per_method={m: _nanmean([float(np.mean(r["feasible"][r["method"] == k]))
                                 for r in rows if (r["method"] == k).any()])
                    for k, m in enumerate(config.methods)},
    )
    return summary, rows


def report(store: str | Path, out: str | Path | None = None, *, sample: int = 8,
           seed: int = 0) -> dict:
    """Summarize a store: writes ``<store>-report.json``, ``<store>-report.md`` and
    ``<store>-uncertainty.png`` (uncertainty maps of ``sample`` items drawn with ``seed``)
    into ``out`` (default: the store's folder) and returns the summary.

    "Ground truth within the spread" is the fraction of pixels with
    :math:`|x_{true} - \\mu| \\le 2\\sigma` (:math:`\\mu, \\sigma` the per-pixel mean and
    standard deviation over the feasible solutions), averaged over items with a known truth.
    "Distinct classes" (for a prior with a classifier) is the number of classes its
    classifier finds among an item's feasible solutions, averaged over items.
    """
    store = Path(store)
    sample = check_positive_int("sample", sample, minimum=0)
    seed = check_positive_int("seed", seed, minimum=0)
    summary, rows = summarize_store(open_report_store(store), store)
    out = store.parent if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = store.name.removesuffix(".zarr")
    paths = {ext: out / f"{stem}-report.{ext}" for ext in ("json", "md")}
    paths["png"] = out / f"{stem}-uncertainty.png"
    summary["files"] = {k: str(v) for k, v in paths.items()}
    paths["json"].write_text(json.dumps(summary, indent=2))
    paths["md"].write_text(markdown(summary))
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(rows), size=min(sample, len(rows)), replace=False)) \
        if rows else []
    fig = uncertainty_sheet([rows[i] for i in picks])
    fig.savefig(paths["png"], dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return summary


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _prior_line(c: dict, meta: dict) -> str:
    """``prior `REFERENCE` (description; SHA-256 `abc…`)``."""
    prior = meta.get("prior") or {}
    sha = meta.get("generator_sha256")
    notes = [prior.get("description") or prior.get("name"),
             f"SHA-256 `{sha[:12]}…`" if sha else "no single weights file"]
    return f"prior `{c['prior']}` ({'; '.join(n for n in notes if n)})"


def _data_line(c: dict, meta: dict) -> str:
    """``data `prior` (images; ...)``, saying what ``"prior"`` meant for this prior."""
    notes = [c["data_kind"]]
    if c["data"] == PRIOR_DATA:
        has_data = (meta.get("prior") or {}).get("data", True)
        notes.append("its held-out data set" if has_data else "its samples: it has no data set")
    return f"data `{c['data']}` ({'; '.join(notes)})"


def markdown(s: dict) -> str:
    """The Markdown report of a :func:`report` summary."""
    from ..methods import label

    c, meta = s["config"], s["metadata"]
    classes = (meta.get("prior") or {}).get("classifier", s["classes"] is not None)
    lines = [
        f"# eglass batch report: `{s['store']}`", "",
        f"operator `{c['operator']}`, noise {c['noise']}, {_data_line(c, meta)}, "
        f"{_prior_line(c, meta)}, methods "
        f"{', '.join(label(m) for m in c['methods'])}, seed {c['seed']}.", "",
        "| quantity | value |", "|---|---|",
        f"| measurements done | {s['items']} |",
        f"| measurements failed | {len(s['failed'])} |",
        *([f"| measurements damaged | {len(s['damaged'])} |"]
          if s.get("damaged") else []),
        f"| feasible fraction (mean over measurements, tau={_tau(s)}) | "
        f"{_fmt(s['feasible_fraction'])} |",
        f"| measurements with a feasible solution | "
        f"{_fmt(s['items_with_a_feasible_solution'])} |",
        f"| seconds per measurement (one worker) | {_fmt(s['seconds_per_measurement'])} |",
        f"| diversity: mean pairwise perceptual distance | {_fmt(s['diversity'])} |",
        *([f"| diversity: distinct classes | {_fmt(s['classes'])} |"] if classes else []),
        f"| ground truth within the spread (pixels with abs(x_true - mean) <= 2 std) | "
        f"{_fmt(s['within_spread'])} |",
        f"| PSNR of the first solution (dB) | {_fmt(s['x0_psnr'])} |",
    ]
    lines += [f"| feasible fraction, {label(m)} | {_fmt(v)} |"
              for m, v in s["per_method"].items()]
    if s["failed"]:
        lines += ["", "## Failed measurements", ""]
        lines += [f"- item {k}: {v}" for k, v in s["failed"].items()]
    if s.get("damaged"):
        lines += ["", "## Damaged measurements (re-run the same command to redo them, unless "
                  "said otherwise)", ""]
        lines += [f"- item {k}: {v}" for k, v in s["damaged"].items()]
    return "\n".join(lines) + "\n"


def uncertainty_sheet(rows: Sequence[dict]):
    """A figure with one row per item (:func:`eglass.batch.read_item` dicts): ground truth
    (when known), the measurement (when it is an image, e.g. low resolution or masked), the
    first solution, and the per-pixel mean and standard deviation over the feasible solutions
    (for colour images, the standard deviation averaged over the channels)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from ..figures import to_numpy_image

    titles = ("ground truth", "measurement", "first solution", "mean", "std (uncertainty)")
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 5, figsize=(8.0, 1.7 * n), squeeze=False)
    vmax = max([float(np.nanmax(r["std"])) for r in rows if np.isfinite(r["std"]).any()],
               default=1.0)
    for row, r in zip(axes, rows, strict=False):
        y = np.asarray(r["y"])
        images = (r.get("x_true"), y if y.ndim == 3 else None, r["x0"][0], r["mean"])
        for ax, img in zip(row, images, strict=False):
            if img is not None:
                ax.imshow(to_numpy_image(torch.as_tensor(np.asarray(img))), cmap="gray",
                          vmin=0, vmax=1)
        row[4].imshow(np.asarray(r["std"]).mean(0), cmap="magma", vmin=0, vmax=vmax)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{r.get('name', '')}\n{int(r.get('n_feasible', 0))} feasible",
                          fontsize=7)
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig

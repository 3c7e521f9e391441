r"""Every static figure of eglass, in one module (the book's chapters call these).

One helper draws image grids (:func:`show_images`); the others draw what the chapters
measure: the inversion's error curves (:func:`plot_errors`), spectra and coupling of the
metrics (:func:`spectrum_figure`, :func:`coupling_figure`), Algorithm 1's correlations
(:func:`correlation_figure`, the paper's Fig. 1), its settings sweep (:func:`sweep_figure`),
the trade-off between measurement error and perceptual change (:func:`tradeoff_figure`),
rows of solutions as in the paper's Figs. 2-3 (:func:`solutions_figure`,
:func:`show_solutions`) and one setting of the explorer (:func:`explorer_figure`). Each
returns its matplotlib figure.

>>> import torch
>>> fig = show_images(torch.zeros(3, 1, 8, 8), titles=["a", "b", "c"])
>>> len(fig.axes)
3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from .evaluate import TAU, TAU_STRICT
from .explore import Faithfulness
from .geometry import trace_fraction
from .methods import label as method_label
from .methods import method_names
from .results import Solutions

__all__ = [
    "show_images",
    "to_numpy_image",
    "plot_errors",
    "spectrum_figure",
    "coupling_figure",
    "correlation_figure",
    "tradeoff_figure",
    "faithfulness_figure",
    "sweep_figure",
    "solutions_figure",
    "show_solutions",
    "explorer_figure",
    "scaling_figure",
    "breakdown_figure",
]


def to_numpy_image(x: torch.Tensor, vmin: float = -1.0, vmax: float = 1.0):
    """One image ``(C, H, W)`` in [vmin, vmax] -> ``(H, W)`` or ``(H, W, C)`` array in [0, 1]."""
    x = x.detach().float().cpu()
    x = ((x - vmin) / (vmax - vmin)).clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def show_images(
    rows: torch.Tensor | Sequence[torch.Tensor],
    *,
    titles: Sequence[Sequence[str]] | Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 1.3,
    cmap: str = "gray",
    vrange: tuple[float, float] = (-1.0, 1.0),
    suptitle: str | None = None,
):
    """Show images as a grid and return the matplotlib figure.

    Args:
        rows: one batch ``(N, C, H, W)`` (wrapped in ``ncols`` columns, default all in one
            row) or a sequence of batches, one per row (rows may differ in length).
        titles: a title per image: a flat list for a single batch, a list per row otherwise.
        row_labels: a label written left of each row.
        size: inches per image.
        vrange: the value range mapped to black..white (``(-1, 1)`` for images,
            use e.g. ``(-0.5, 0.5)`` for differences).
    """
    if isinstance(rows, torch.Tensor):
        batch = rows
        ncols = ncols or batch.shape[0]
        rows = [batch[i : i + ncols] for i in range(0, batch.shape[0], ncols)]
        if titles is not None:
            flat = list(titles)
            titles = [flat[i : i + ncols] for i in range(0, len(flat), ncols)]
    nrows = len(rows)
    ncols = max(r.shape[0] for r in rows)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
        squeeze=False,
    )
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= row.shape[0]:
                ax.axis("off")
                continue
            ax.imshow(to_numpy_image(row[j], *vrange), cmap=cmap, vmin=0, vmax=1)
            if titles is not None and i < len(titles) and j < len(titles[i]):
                ax.set_title(titles[i][j], fontsize=8)
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def plot_errors(
    results: dict,
    taus: tuple[float, ...] = (TAU, TAU_STRICT),
    ax=None,
):
    """Measurement error against the Adam step, one curve per result (log scale).

    Each curve is the median over the ``N`` measurements, shaded between the smallest and
    largest; a dotted vertical line marks where IAGAN's fine-tuning starts, dashed horizontal
    lines the feasibility thresholds ``taus``. Returns the matplotlib figure.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for (name, r), color in zip(results.items(), plt.rcParams["axes.prop_cycle"], strict=False):
        h = r.history.detach().cpu().clamp_min(1e-12)
        steps = torch.arange(h.shape[0])
        c = color["color"]
        ax.semilogy(steps, h.median(dim=1).values, color=c, label=name)
        ax.fill_between(steps, h.min(dim=1).values, h.max(dim=1).values, color=c, alpha=0.2)
        if r.method == "iagan":
            ax.axvline(r.latent_steps, color=c, ls=":", lw=1)
    for tau in taus:
        ax.axhline(tau, color="gray", ls="--", lw=0.8)
        ax.annotate(
            f"τ = {tau:g}",
            (1, tau),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=8,
            color="gray",
        )
    ax.set_xlabel("Adam step")
    ax.set_ylabel("measurement error")
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def spectrum_figure(spectra: Mapping[str, torch.Tensor], size: float = 3.0):
    r"""Two panels for named spectra ``{label: evals (d,)}``: eigenvalues :math:`\lambda_k /
    \lambda_1` on a log scale (left) and the cumulative fraction of the trace (right, with
    the 90/99/99.9 % levels). Returns the matplotlib figure."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(2.6 * size, size))
    for label, evals in spectra.items():
        lam = evals.detach().double().clamp_min(0).sort(descending=True).values
        k = torch.arange(1, lam.numel() + 1)
        left.semilogy(k, (lam / lam[0]).clamp_min(1e-12).cpu(), lw=1.4, label=label)
        right.plot(k, trace_fraction(lam).cpu(), lw=1.4, label=label)
    for f in (0.9, 0.99, 0.999):
        right.axhline(f, color="0.6", lw=0.7, ls="--")
    left.set(xlabel="eigenvalue index k", ylabel=r"$\lambda_k / \lambda_1$",
             title="spectrum (log scale)")
    right.set(xlabel="number of top eigenvalues k", ylabel="fraction of the trace",
              title="cumulative fraction of the trace")
    right.set_xscale("log")
    left.legend(fontsize=7)
    fig.tight_layout()
    return fig


def coupling_figure(
    couplings: Mapping[str, torch.Tensor], n: int | None = None, size: float = 3.0
):
    r"""Heatmaps of :math:`|C| = |U^\top V|` (rows: eigenvectors of :math:`H_Y`, columns: of
    :math:`H_X`, both in descending order), one panel per ``{label: C}``, the top-left
    ``n x n`` block (default all). Returns the matplotlib figure."""
    fig, axes = plt.subplots(1, len(couplings), figsize=(1.15 * size * len(couplings), size),
                             squeeze=False)
    for ax, (label, C) in zip(axes[0], couplings.items(), strict=True):
        C = C.detach().abs().cpu().numpy()
        if n is not None:
            C = C[:n, :n]
        im = ax.imshow(C, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("eigenvector j of $H_X$", fontsize=8)
    axes[0, 0].set_ylabel("eigenvector i of $H_Y$", fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label=r"$|u_i \cdot v_j|$")
    return fig


def correlation_figure(
    dirs: Sequence, labels: Sequence[str] | None = None, n: int = 32, size: float = 3.0
):
    r"""The paper's Fig. 1: :math:`|\cos|` between the start :math:`v^K` (blue) / the final
    :math:`d` (red) and the top-``n`` eigenvectors of :math:`H_Y` (left) and :math:`H_X`
    (right), one row per direction. The threshold and the ``top`` orthogonalized
    eigenvectors are marked on the left."""
    labels = [f"K={dr.K}" for dr in dirs] if labels is None else list(labels)
    fig, axes = plt.subplots(len(dirs), 2, figsize=(2.2 * size, 0.8 * size * len(dirs)),
                             squeeze=False, sharey=True)
    for row, (dr, label) in enumerate(zip(dirs, labels, strict=True)):
        for col, (start, final, name) in enumerate(
            [(dr.corr_Y_start, dr.corr_Y, "H_Y"), (dr.corr_X_start, dr.corr_X, "H_X")]
        ):
            ax = axes[row, col]
            k = min(n, start.numel())
            idx = range(1, k + 1)
            before, after = (c[:k].abs().cpu().numpy() for c in (start, final))
            ax.bar([i - 0.2 for i in idx], before, width=0.4, color="tab:blue",
                   label=f"start $v^{{{dr.K}}}$")
            ax.bar([i + 0.2 for i in idx], after, width=0.4, color="tab:red", label="final $d$")
            if col == 0 and dr.threshold is not None:
                ax.axhline(dr.threshold, color="k", lw=0.8, ls="--", label="threshold")
                ax.axvspan(0.5, min(dr.top, k) + 0.5, color="0.9", zorder=0, label="top")
            ax.set_title(f"{label}: eigenvectors of ${name[0]}_{name[2]}$", fontsize=9)
            ax.set_xlabel("eigenvector index j (descending eigenvalue)", fontsize=8)
            ax.set_ylim(0, 1.02)
        axes[row, 0].set_ylabel("|correlation|", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def tradeoff_figure(
    explorations: Sequence[Solutions], title: str = "", size: float = 3.2, ax=None
):
    r"""Measurement error against perceptual change to :math:`G(z_0)` for every solution of
    each exploration (one colour per method), with the feasibility threshold :math:`\tau`.
    Draws into ``ax`` if given; returns the figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * size, size))
    fig = ax.figure
    markers = dict(zip(method_names(), "xos^DPv*", strict=False))  # registry order
    for ex in explorations:
        if ex.perceptual is None:
            raise ValueError(f"the {ex.method!r} exploration has no perceptual distances; "
                             "pass distance= to explore()")
        ax.scatter(ex.perceptual.cpu().numpy(), ex.errors.clamp_min(1e-12).cpu().numpy(), s=14,
                   alpha=0.7, marker=markers.get(ex.method, "o"),
                   label=f"{method_label(ex.method)} ({ex.feasible_fraction():.0%} feasible)")
    tau = explorations[0].tau
    ax.axhline(tau, color="k", lw=0.8, ls="--", label=f"tau = {tau:g}")
    ax.set_yscale("log")
    ax.set_xlabel("perceptual distance to G(z0)")
    ax.set_ylabel("measurement error")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def faithfulness_figure(runs: Mapping[str, Faithfulness | Sequence[Faithfulness]],
                        title: str = "", size: float = 3.2, ax=None):
    r"""Measurement change against :math:`|\eta|`, log-log (:class:`eglass.explore.Faithfulness`,
    medians over K and over the measurements pooled): along :math:`v^K` once, along
    Algorithm 1's :math:`d` for each entry of ``runs`` (e.g. ``{"top 8": ..., "top 16":
    ...}``), each with its first-order prediction :math:`\eta^2 d^\top H_Y d / (4m)`
    (dashed), and the start's own error :math:`e_0` (dotted). Draws into ``ax`` if given;
    returns the figure."""
    if not runs:
        raise ValueError("faithfulness_figure needs at least one labelled Faithfulness")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * size, size))
    fig = ax.figure
    pooled = {name: Faithfulness.pool([f] if isinstance(f, Faithfulness) else list(f))
              for name, f in runs.items()}
    first = next(iter(pooled.values())).curves()
    eta = first["eta"].numpy()
    ax.plot(eta, first["change_v"].clamp_min(1e-12).numpy(), "o-", color="C3",
            label="$v^K$ alone")
    ax.plot(eta, first["predicted_v"].clamp_min(1e-12).numpy(), "--", color="C3", lw=0.8)
    for i, (name, f) in enumerate(pooled.items()):
        curves, color = f.curves(), f"C{i}"
        ax.plot(eta, curves["change_d"].clamp_min(1e-12).numpy(), "s-", color=color,
                label=f"Algorithm 1 $d$, {name}")
        predicted = curves["predicted_d"].numpy()
        if (predicted > 0).any():
            ax.plot(eta, predicted.clip(1e-12), "--", color=color, lw=0.8)
    e0 = next(iter(pooled.values())).e0
    ax.axhline(e0, color="k", lw=0.8, ls=":", label=f"$e_0$ = {e0:.1e} (start vs y)")
    ax.set(xscale="log", yscale="log", xlabel=r"step $|\eta|$",
           ylabel="measurement change vs $A G(z_0)$")
    ax.plot([], [], "k--", lw=0.8, label="first order")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sweep_figure(sweeps: Sequence, labels: Sequence[str], size: float = 2.6):
    """Heatmaps of :class:`eglass.explore.Sweep` results (feasible fraction, median perceptual
    change of the feasible solutions), one row per sweep, cells annotated."""
    fig, axes = plt.subplots(len(sweeps), 2, figsize=(2.4 * size, 1.1 * size * len(sweeps)),
                             squeeze=False)
    for row, (sw, label) in enumerate(zip(sweeps, labels, strict=True)):
        for col, (values, name, fmt) in enumerate(
            [(sw.feasible, "feasible fraction", "{:.0%}"),
             (sw.perceptual, "perceptual change (feasible)", "{:.2g}")]
        ):
            ax = axes[row, col]
            ax.imshow(values.numpy(), cmap="viridis", aspect="auto")
            for i in range(values.shape[0]):
                for j in range(values.shape[1]):
                    ax.text(j, i, fmt.format(values[i, j].item()), ha="center", va="center",
                            fontsize=7, color="w")
            ax.set_xticks(range(len(sw.tops)), [str(t) for t in sw.tops])
            ax.set_yticks(range(len(sw.thresholds)), [f"{t:g}" for t in sw.thresholds])
            ax.set_xlabel("top")
            ax.set_ylabel("threshold")
            ax.set_title(f"{label}: {name}", fontsize=9)
    fig.tight_layout()
    return fig


def solutions_figure(
    explorations: Sequence[Solutions],
    labels: Sequence[str],
    reference: torch.Tensor | None = None,
    size: float = 1.5,
    suptitle: str | None = None,
):
    r"""The paper's Figs. 2-3: one row of solutions per exploration, titled with K and
    :math:`\eta`, and the range of measurement errors of the row written under its label.
    ``reference`` (e.g. ``[x_true, A^\dagger y, G(z_0)]`` as ``(R, C, H, W)``) is shown as a
    first row."""
    rows, row_labels, titles = [], [], []
    if reference is not None:
        rows.append(reference.detach().cpu())
        row_labels.append("reference")
        titles.append([])
    for ex, label in zip(explorations, labels, strict=True):
        lo, hi = ex.error_range()
        rows.append(ex.x.detach().cpu())
        row_labels.append(f"{label}\n[{lo:.1e}, {hi:.1e}]")
        titles.append([f"K={k}, η={e:+g}" for k, e in zip(ex.K.tolist(), ex.eta.tolist(),
                                                          strict=True)])
    return show_images(rows, titles=titles, row_labels=row_labels, size=size, suptitle=suptitle)


def show_solutions(
    rows: dict[str, Solutions | tuple[torch.Tensor, torch.Tensor]],
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
        rows: label -> :class:`eglass.results.Solutions` (or a pair of images
            ``(N, C, H, W)`` and errors ``(N,)``); the first ``k`` are shown.
        classifier: optional digit classifier with ``predict_proba``.
        size: inches per image.
    """
    images, titles, labels = [], [], []
    for label, row in rows.items():
        x, err = (row.x, row.errors) if isinstance(row, Solutions) else row
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


def explorer_figure(explorer, method: str = "eglass", K: int = 8, eta: float = 2.0,
                    size: float = 1.6):
    r"""One setting of an :class:`eglass.widgets.Explorer`: ``G(z0)``, the solution,
    ``(x - G(z0))/2``, its measurements :math:`A^\dagger A x` and the observed
    :math:`A^\dagger y`, titled with the measurement error, the verdict at :math:`\tau`
    and the direction's feasible interval."""
    s = explorer.solution(method, K, eta)
    x = s["x"]
    panels = torch.cat([explorer.x0, x, (x - explorer.x0) / 2,
                        explorer.measurement_image(x), explorer.observed_image()])
    verdict = "feasible" if s["feasible"] else "NOT feasible"
    perceptual = "" if s["perceptual"] is None else f", perceptual {s['perceptual']:.3g}"
    interval = s.get("reach")
    where = ("" if interval is None else
             f"\nfeasible for eta in [{-interval[0]:+.2f}, {interval[1]:+.2f}]"
             f" (|eta| <= {explorer.eta_max:g} offered)")
    return show_images(
        panels.detach().cpu(),
        titles=["G(z0)", "solution", "(x - G(z0))/2", "its measurements", "observed y"],
        size=size,
        suptitle=(f"{method}, K={K}, eta={eta:+.2f}: measurement error {s['error']:.2e} "
                  f"({verdict} at tau={explorer.tau:.3g}){perceptual}{where}"),
    )


_COSTS = {"forward_s": "one forward", "metrics_exact_s": "both metrics, exact",
          "metrics_topk_s": "both metrics, top-k", "algorithm1_s": "Algorithm 1",
          "solutions10_s": "10 solutions"}


def scaling_figure(results: Mapping, size: float = 4.0):
    r"""Cost against problem size (latent dim :math:`d` x pixels), log-log: one colour per
    cost, one marker per generator family (the name without its resolution:
    ``biggan-deep``, ``pggan``, ``stylegan2``, ``stylegan2-w+``, ...), each family's points of
    one cost joined in order of size.

    ``results`` is ``benchmarks/results/scale.json``: ``{"models": [{"name", "latent_dim",
    "pixels", "forward_s", "metrics_exact_s", "metrics_topk_s", "algorithm1_s",
    "solutions10_s", ...}, ...]}``; a cost that is absent or ``null`` is skipped, other keys
    are ignored.

    >>> fig = scaling_figure({"models": [{"name": "a", "latent_dim": 8, "pixels": 64,
    ...                                   "forward_s": 0.1}]})
    >>> len(fig.axes[0].lines)
    1
    """
    models = results.get("models") if isinstance(results, Mapping) else None
    if not models:
        raise ValueError("results must be a dict with a non-empty 'models' list, got "
                         f"{type(results).__name__} {str(results)[:80]}")

    def family(name: str) -> str:
        return "-".join(part for part in name.split("-") if not part.isdigit())

    families = list(dict.fromkeys(family(m["name"]) for m in models))
    markers = dict(zip(families, "osD^v<>ph*", strict=False))
    colours = dict(zip(_COSTS, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, ax = plt.subplots(figsize=(1.5 * size, size))
    for key in _COSTS:
        for kind in families:
            pts = sorted((m["latent_dim"] * m["pixels"], m[key]) for m in models
                         if family(m["name"]) == kind and m.get(key) is not None)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", marker=markers[kind],
                        color=colours[key], markersize=5)
    ax.set(xscale="log", yscale="log", xlabel="latent dim × pixels", ylabel="seconds")
    costs = [plt.Line2D([], [], color=colours[k], label=label) for k, label in _COSTS.items()
             if any(m.get(k) is not None for m in models)]
    kinds = [plt.Line2D([], [], color="grey", marker=markers[f], linestyle="", label=f)
             for f in families]
    ax.legend(handles=costs + kinds, fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


_PARTS = {"first_solution": "first solution", "metrics": "metrics $H_Y$, $H_X$",
          "directions": "Algorithm 1", "solutions": "solutions"}


def breakdown_figure(results: Mapping, k: int = 100, tau: float = 1e-2, size: float = 3.0):
    r"""Where e-GLASS's time goes, from ``benchmarks/results/solutions.json``: one panel per
    problem, one stacked horizontal bar per e-GLASS variant (median seconds over the digits of
    its first solution, metrics, Algorithm 1's directions and solutions, to ``k`` feasible
    solutions at ``tau`` or the end of its run), the median time to ``k`` marked ``|``; the
    baselines, tens of times longer, are named with their median times to 10 and ``k`` in the
    panel's legend instead of drawn to the same scale.

    >>> summary = {"e-GLASS": {"breakdown": {"first_solution": 0.1, "metrics": 0.1,
    ...            "directions": 0.01, "solutions": 0.05}, "time_to": {"100@0.01": 0.2}},
    ...            "PULSE": {"breakdown": {"first_solution": 1.0, "metrics": 0.0},
    ...                      "time_to": {"10@0.01": 2.0, "100@0.01": None}}}
    >>> fig = breakdown_figure({"problems": {"SR x8": {"summary": summary}}})
    >>> labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    >>> len(fig.axes[0].patches), "PULSE: 10 in 2.0 s, 100 not reached" in labels
    (4, True)
    """
    problems = results.get("problems") if isinstance(results, Mapping) else None
    if not problems:
        raise ValueError("results must be a dict with a non-empty 'problems' mapping (as "
                         "benchmarks/solutions.py writes), got "
                         f"{type(results).__name__} {str(results)[:80]}")
    fig, axes = plt.subplots(len(problems), 1, figsize=(3.6 * size, 0.9 * size * len(problems)),
                             squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def seconds(t):
        return "not reached" if t is None else f"in {t:.1f} s"

    for ax, (name, problem) in zip(axes[:, 0], problems.items(), strict=True):
        summary = problem["summary"]
        ours = [m for m, s in summary.items() if (s.get("breakdown") or {}).get("metrics")]
        for row, method in enumerate(ours):
            s, left = summary[method], 0.0
            for colour, (part, label) in zip(colours, _PARTS.items(), strict=False):
                width = s["breakdown"].get(part) or 0.0
                ax.barh(row, width, left=left, color=colour, label=label if row == 0 else None)
                left += width
            reached = s["time_to"].get(f"{k}@{tau:g}")
            if reached is not None:
                ax.plot([reached], [row], "k|", markersize=18)
        for method, s in summary.items():
            if method not in ours:
                at = s["time_to"]
                ax.plot([], [], " ", label=f"{method}: 10 {seconds(at.get(f'10@{tau:g}'))}, "
                                           f"{k} {seconds(at.get(f'{k}@{tau:g}'))}")
        ax.set_yticks(range(len(ours)), ours)
        ax.invert_yaxis()
        ax.set(xlabel="seconds (median over digits)",
               title=f"{name}: e-GLASS's time to {k} feasible solutions (τ = {tau:g}, marked |)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig

"""Presentation tables, all in one place: results as text, Markdown or ``pandas.DataFrame``
for the book, the benchmarks and the reports.

- :func:`compare_solutions` / :func:`candidates_table`: the candidate images of an inversion
  (latent fit, IAGAN, their back-projections) with their measurement errors and PSNRs;
- :func:`summary_table`: rows of :func:`eglass.results.summarize`;
- :func:`solutions_table`: seconds to ``k`` feasible solutions of timed runs
  (:mod:`eglass.comparison`);
- :func:`benchmark_table` / :func:`diversity_table`: the summaries that
  ``benchmarks/solutions.py`` writes;
- :func:`reach_table`: how far each method's directions stay feasible
  (:class:`eglass.reach.Reach`) and how much the image has changed there;
- :func:`scale_table`: the costs ``benchmarks/scale.py`` measured per model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from .evaluate import TAU_STRICT, measurement_error, psnr
from .inversion import InversionResult, back_project
from .operators import as_operator
from .reach import Reach
from .results import Solutions

__all__ = [
    "compare_solutions",
    "candidates_table",
    "summary_table",
    "solutions_table",
    "benchmark_table",
    "diversity_table",
    "reach_table",
    "scale_table",
]


def compare_solutions(
    result: InversionResult, A, y: torch.Tensor, x_true: torch.Tensor | None = None
) -> dict[str, dict[str, torch.Tensor]]:
    r"""The candidate images of an inversion, with their measurement errors and PSNRs.

    Candidates: ``"latent"`` (:math:`G(z_{latent})`), ``"latent + BP"`` and, for an IAGAN
    result, ``"iagan"`` (:math:`G_{ft}(z)`) and ``"iagan + BP"``; BP is
    :func:`eglass.inversion.back_project`.

    Args:
        result: an :class:`eglass.inversion.InversionResult` for measurements ``y``.
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


def summary_table(rows: Sequence[dict], markdown: bool = False) -> str:
    """A table of :func:`eglass.results.summarize` rows: plain text, or a Markdown table if
    ``markdown``."""
    cols = ["method", "solutions", "feasible", "feasible 1e-3", "error range",
            "median perceptual", "mean pairwise", "classes"]
    cells = []
    for r in rows:
        classes = r.get("classes")
        cells.append([
            r["method"], str(r["n"]), f"{r['feasible']:.0%}", f"{r['feasible_strict']:.0%}",
            f"[{r['error_min']:.1e}, {r['error_max']:.1e}]", f"{r['perceptual']:.3g}",
            f"{r.get('pairwise', math.nan):.3g}",
            "-" if classes is None else f"{classes:.3g}",
        ])
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(cols)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)) for c in cells]
    return "\n".join(lines)


def solutions_table(
    runs: dict[str, Solutions],
    counts: tuple[int, ...] = (10,),
    taus: tuple[float, ...] = (1e-2,),
) -> str:
    r"""A text table: per method, seconds to ``k`` feasible solutions for each ``k`` in
    ``counts`` and :math:`\tau`, the ratio to the first method, candidates tried and the
    feasible fraction."""
    keys = [(k, tau) for tau in taus for k in counts]
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
        row += f"{ratio:>9s}{len(run):7d}{run.feasible_fraction(keys[0][1]):10.2f}"
        lines.append(row)
    return "\n".join(lines)


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
    width = max(9, *map(len, summary))
    lines = [f"{'method':{width}s}" + "".join(f"{'t' + k + ' [s]':>17s}" for k in keys)
             + f"{'feas@0.01':>10s}{'div@10':>8s}{'cls@10':>7s}{'conf@10':>8s}"]
    for method, s in summary.items():
        div = s["mean_distance@10"]
        lines.append(
            f"{method:{width}s}" + "".join(
                f"{_cell(s['time_to'][k], s['reached'][k], n_digits):>17s}" for k in keys)
            + f"{s['feasible_fraction']['0.01']:10.2f}"
            + f"{'-' if div is None else format(div, '.3f'):>8s}"
            + f"{s['classes@10'] or 0:7.1f}{s['confidence@10'] or 0:8.2f}")
    for method in list(summary)[1:]:
        ratios = summary[method]["ratio_vs_eglass"]
        lines.append(f"{method + ' / e-GLASS':{width + 10}s}" + "  ".join(
            f"{k}: {'-' if ratios[k] is None else format(ratios[k], '.1f') + 'x'}"
            for k in keys))
    return "\n".join(lines)


def diversity_table(summary: dict) -> str:
    """Text table of a ``benchmarks/solutions.py`` summary (one problem): per method, the
    diversity of its first 10 feasible solutions against PULSE's (distinct classes and their
    difference to PULSE's, mean pairwise perceptual distance and its ratio to PULSE's, both
    medians over digits of per-digit values) and where its time to 100 went (median seconds
    of first solution, metrics, Algorithm 1's directions, solutions)."""
    width = max(9, *map(len, summary))
    parts = ("first_solution", "metrics", "directions", "solutions")
    lines = [f"{'method':{width}s}{'cls@10':>7s}{'-PULSE':>7s}{'div@10':>8s}{'/PULSE':>7s}"
             + "".join(f"{p.replace('_solution', ' sol') + ' [s]':>15s}" for p in parts)]

    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    for method, s in summary.items():
        cost = s.get("breakdown", {})
        lines.append(
            f"{method:{width}s}{num(s['classes@10'], '.1f'):>7s}"
            f"{num(s.get('classes_minus_pulse@10'), '+.1f'):>7s}"
            f"{num(s['mean_distance@10'], '.3f'):>8s}"
            f"{num(s.get('distance_vs_pulse@10'), '.2f'):>7s}"
            + "".join(f"{num(cost.get(p), '.3f'):>15s}" for p in parts))
    return "\n".join(lines)


def reach_table(reaches: Mapping[str, Reach | Sequence[Reach]]):
    r"""One row per method (``{label: reaches}``, e.g. one :class:`eglass.reach.Reach` per
    starting point, pooled): the median feasible reach :math:`|\eta|` over directions and
    signs, the share of them still feasible at the cap (the reach is then a lower bound),
    and the perceptual change from :math:`G(z_0)` there (median and upper quartile): at
    equal :math:`\tau`, the method whose feasible solutions change the image most is the one
    that explores most. Returns a ``pandas.DataFrame``."""
    import pandas as pd

    rows = []
    for name, found in reaches.items():
        found = [found] if isinstance(found, Reach) else list(found)
        eta = torch.cat([r.eta.flatten() for r in found])
        capped = torch.cat([r.capped.flatten() for r in found]).double()
        row = {"method": name, "tau": found[0].tau, "median reach |eta|": eta.median().item(),
               "at the cap": capped.mean().item()}
        if all(r.perceptual is not None for r in found):
            change = torch.cat([r.perceptual.flatten() for r in found])
            row["perceptual change there (median)"] = change.median().item()
            row["(upper quartile)"] = change.quantile(0.75).item()
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def scale_table(results: Mapping) -> str:
    """Text table of ``benchmarks/results/scale.json`` (:func:`eglass.figures.scaling_figure`
    reads the same file): per model, the latent size, one forward pass, both metrics exact
    and their top-32 eigenpairs (seconds, then as multiples of a forward pass), Algorithm 1
    for ten directions, ten solutions and the time to ten solutions, with the exact metrics
    and with the top-32 eigenpairs. ``*`` marks a cost extrapolated from a timed part; the
    times to ten always are (the first solution's budget times one timed step).

    >>> row = dict(name="m", latent_dim=8, forward_s=0.1, metrics_exact_s=2.0,
    ...            metrics_exact_extrapolated=False, metrics_topk_s=1.0,
    ...            metrics_topk_extrapolated=True, metrics_exact_x_forward=20.0,
    ...            metrics_topk_x_forward=10.0, algorithm1_s=0.002, solutions10_s=0.3,
    ...            to_10_solutions_exact_s=40.0, to_10_solutions_topk_s=39.0)
    >>> scale_table({"models": [row]}).splitlines()[1].split()
    ['m', '8', '0.100', '2', '1*', '20', '/', '10', '2.0', '0.30', '40*', '/', '39*']
    """
    models = results.get("models") if isinstance(results, Mapping) else None
    if not models:
        raise ValueError("results must be a dict with a non-empty 'models' list, got "
                         f"{type(results).__name__} {str(results)[:80]}")
    width = max(5, *(len(m["name"]) for m in models))
    lines = [f"{'model':{width}s} {'d':>5s} {'forward s':>11s} {'exact s':>9s} {'top-32 s':>9s}"
             f" {'(x forward)':>14s} {'alg. 1 ms':>10s} {'10 sol. s':>10s}"
             f" {'to 10 s (exact / top-32)':>25s}"]

    def cost(m, key):
        return f"{m[key]:.0f}" + ("*" if m[key.removesuffix("_s") + "_extrapolated"] else "")

    for m in models:
        multiples = f"{m['metrics_exact_x_forward']:.0f} / {m['metrics_topk_x_forward']:.0f}"
        to_10 = f"{m['to_10_solutions_exact_s']:.0f}* / {m['to_10_solutions_topk_s']:.0f}*"
        lines.append(f"{m['name']:{width}s} {m['latent_dim']:5d} {m['forward_s']:11.3f} "
                     f"{cost(m, 'metrics_exact_s'):>9s} {cost(m, 'metrics_topk_s'):>9s} "
                     f"{multiples:>14s} {1e3 * m['algorithm1_s']:10.1f} "
                     f"{m['solutions10_s']:10.2f} {to_10:>25s}")
    return "\n".join(lines)

r"""The live solution-space explorer: sliders for the method, the direction K and the step
:math:`\eta`, showing the new solution :math:`G(z_0 + \eta d_K)`, its difference to
:math:`G(z_0)`, its measurements and its measurement error.

:class:`Explorer` does the work and draws with matplotlib, so a static figure of any setting
comes from :meth:`Explorer.figure` without a widget frontend (a built book shows that one);
:func:`explorer` wraps it in ``ipywidgets`` for a live notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .evaluate import TAU, measurement_error
from .explore import (
    EPS,
    METHODS,
    THRESHOLD,
    Direction,
    Exploration,
    directions,
    null_space_walk,
)
from .plotting import show_images
from .utils import check_generator, check_latents

__all__ = [
    "Explorer",
    "explorer",
    "correlation_figure",
    "tradeoff_figure",
    "sweep_figure",
    "solutions_figure",
]


class Explorer:
    r"""Solutions :math:`G(z_0 + \eta d)` on demand, directions and walks cached.

    Args:
        G, A, y, z0, H_Y, H_X: as for :func:`eglass.explore.explore` (``z0`` is ``(1, d)``).
        distance: optional perceptual distance ``dist(x0, x1) -> (N,)`` shown in the title
            (and steering the ``"walk"``, :func:`eglass.explore.null_space_walk`).
        threshold, top, eps: direction settings (:func:`eglass.explore.eglass_direction`,
            :func:`eglass.explore.generalized_direction`).
        eta_max: the largest :math:`|\eta|` offered; walks are computed to it once per
            (K, sign) in ``walk_steps`` steps and read at the nearest step.
        tau: feasibility threshold.
    """

    def __init__(
        self,
        G: torch.nn.Module,
        A,
        y: torch.Tensor,
        z0: torch.Tensor,
        H_Y: torch.Tensor,
        H_X: torch.Tensor,
        *,
        distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        threshold: float = THRESHOLD,
        top: int | None = None,
        eps: float = EPS,
        eta_max: float = 4.0,
        walk_steps: int = 20,
        tau: float = TAU,
    ):
        dim = check_generator(G)
        check_latents("z0", z0, dim)
        if z0.shape[0] != 1:
            raise ValueError(f"z0 must be a single latent (1,{dim}), got {tuple(z0.shape)}")
        if not eta_max > 0:
            raise ValueError(f"eta_max must be positive, got {eta_max}")
        self.G, self.A, self.y, self.z0 = G, A, y, z0.detach()
        self.H_Y, self.H_X = H_Y, H_X
        self.distance, self.tau = distance, tau
        self.settings = dict(threshold=threshold, top=top, eps=eps)
        self.eta_max, self.walk_steps = float(eta_max), walk_steps
        self.dim = dim
        with torch.no_grad():
            self.x0 = G(self.z0)
        self._directions: dict[tuple[str, int], Direction] = {}
        self._walks: dict[tuple[int, float], torch.Tensor] = {}

    def direction(self, method: str, K: int) -> Direction:
        """The (cached) direction of ``method`` and 1-based ``K``."""
        key = (method, K)
        if key not in self._directions:
            self._directions[key] = directions(self.H_Y, self.H_X, [K], method, **self.settings)[0]
        return self._directions[key]

    def latent(self, method: str, K: int, eta: float) -> torch.Tensor:
        r"""The latent ``(1, d)`` of the solution: :math:`z_0 + \eta d`, or the walk's point
        nearest :math:`|\eta|` for ``"walk"``."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if abs(eta) > self.eta_max + 1e-12:
            raise ValueError(f"|eta| must be <= eta_max={self.eta_max}, got eta={eta}")
        dr = self.direction(method, K)
        if method != "walk":
            return self.z0 + eta * dr.d.to(self.z0)
        if eta == 0:
            return self.z0
        sign = 1.0 if eta > 0 else -1.0
        if (K, sign) not in self._walks:
            path = null_space_walk(self.G, self.A, self.y, self.z0, dr, sign * self.eta_max,
                                   self.walk_steps, self.settings["top"], refresh=4,
                                   target=0.9 * self.tau, distance=self.distance)
            self._walks[(K, sign)] = path.z
        step = round(abs(eta) / self.eta_max * self.walk_steps)
        return self._walks[(K, sign)][step : step + 1]

    def solution(self, method: str, K: int, eta: float) -> dict:
        """The solution image ``x`` ``(1, C, H, W)``, its measurement error, feasibility and
        perceptual distance to ``G(z0)`` (``None`` without a distance)."""
        z = self.latent(method, K, eta)
        with torch.no_grad():
            x = self.G(z)
            error = measurement_error(self.A, x, self.y).item()
            perceptual = None if self.distance is None else self.distance(x, self.x0).item()
        return dict(z=z, x=x, error=error, feasible=error <= self.tau, perceptual=perceptual)

    def _measurement_image(self, x: torch.Tensor) -> torch.Tensor:
        """Measurements of ``x`` shown in image space: :math:`A^\\dagger A x` if the operator
        has a pseudo-inverse, else :math:`A x` when it is image-shaped."""
        dagger = getattr(self.A, "A_dagger", None)
        with torch.no_grad():
            m = dagger(self.A(x)) if callable(dagger) else self.A(x)
        if m.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"cannot show measurements of shape {tuple(m.shape)} as images of shape "
                f"{tuple(x.shape)}: give the operator an A_dagger"
            )
        return m

    def figure(self, method: str = "eglass", K: int = 8, eta: float = 2.0, size: float = 1.6):
        """Draw one setting: ``G(z0)``, the solution, ``(x - G(z0))/2``, its measurements
        :math:`A^\\dagger A x` and the observed :math:`A^\\dagger y`. Returns the figure."""
        s = self.solution(method, K, eta)
        x = s["x"]
        y_img = self._measurement_image_from_y()
        panels = torch.cat([self.x0, x, (x - self.x0) / 2, self._measurement_image(x), y_img])
        verdict = "feasible" if s["feasible"] else "NOT feasible"
        perceptual = "" if s["perceptual"] is None else f", perceptual {s['perceptual']:.3g}"
        return show_images(
            panels.detach().cpu(),
            titles=["G(z0)", "solution", "(x - G(z0))/2", "its measurements", "observed y"],
            size=size,
            suptitle=(f"{method}, K={K}, eta={eta:+.2f}: measurement error {s['error']:.2e} "
                      f"({verdict} at tau={self.tau:g}){perceptual}"),
        )

    def _measurement_image_from_y(self) -> torch.Tensor:
        dagger = getattr(self.A, "A_dagger", None)
        with torch.no_grad():
            return dagger(self.y) if callable(dagger) else self.y


def explorer(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    *,
    Ks: Sequence[int] | None = None,
    methods: Sequence[str] = METHODS,
    eta_max: float = 4.0,
    eta_step: float = 0.25,
    **kwargs,
):
    r"""An ``ipywidgets`` explorer: a method dropdown and sliders for K and :math:`\eta`.

    Each change draws :meth:`Explorer.figure` into an output area. Keyword arguments go to
    :class:`Explorer`. Returns the widget box; its ``.explorer`` attribute is the
    :class:`Explorer` (use ``.explorer.figure(...)`` for a static figure beside it).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    core = Explorer(G, A, y, z0, H_Y, H_X, eta_max=eta_max, **kwargs)
    Ks = list(range(1, min(core.dim, 20) + 1)) if Ks is None else list(Ks)
    method = widgets.Dropdown(options=list(methods), value=list(methods)[0], description="method")
    K = widgets.SelectionSlider(options=Ks, value=Ks[min(7, len(Ks) - 1)], description="K")
    eta = widgets.FloatSlider(value=min(2.0, eta_max), min=-eta_max, max=eta_max, step=eta_step,
                              description="eta", continuous_update=False)
    out = widgets.Output()

    def draw(change=None):
        with out:
            out.clear_output(wait=True)
            fig = core.figure(method.value, K.value, eta.value)
            display(fig)
            plt.close(fig)

    for control in (method, K, eta):
        control.observe(draw, names="value")
    draw()
    box = widgets.VBox([widgets.HBox([method, K, eta]), out])
    box.explorer = core
    return box


def correlation_figure(
    dirs: Sequence[Direction], labels: Sequence[str] | None = None, n: int = 32, size: float = 3.0
):
    r"""The paper's Fig. 1: :math:`|\cos|` between the start :math:`v^K` (blue) / the final
    :math:`d` (red) and the top-``n`` eigenvectors of :math:`H_Y` (left) and :math:`H_X`
    (right), one row per direction. The threshold and the ``top`` orthogonalized
    eigenvectors are marked on the left."""
    import matplotlib.pyplot as plt

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
    explorations: Sequence[Exploration], title: str = "", size: float = 3.2, ax=None
):
    r"""Measurement error against perceptual change to :math:`G(z_0)` for every solution of
    each exploration (one colour per method), with the feasibility threshold :math:`\tau`.
    Draws into ``ax`` if given; returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * size, size))
    fig = ax.figure
    markers = dict(eigenvector="x", eglass="o", generalized="s", walk="^")
    for ex in explorations:
        if ex.perceptual is None:
            raise ValueError(f"the {ex.method!r} exploration has no perceptual distances; "
                             "pass distance= to explore()")
        ax.scatter(ex.perceptual.cpu().numpy(), ex.errors.clamp_min(1e-12).cpu().numpy(), s=14,
                   alpha=0.7, marker=markers.get(ex.method, "o"),
                   label=f"{ex.method} ({ex.feasible_fraction:.0%} feasible)")
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


def sweep_figure(sweeps: Sequence, labels: Sequence[str], size: float = 2.6):
    """Heatmaps of a :class:`eglass.explore.Sweep` (feasible fraction, median perceptual
    change of the feasible solutions), one row per sweep, cells annotated."""
    import matplotlib.pyplot as plt

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
    explorations: Sequence[Exploration],
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

r"""The live solution-space explorer: controls for the method, the direction K and the step
:math:`\eta`, showing the new solution :math:`G(z_0 + \eta d_K)`, its difference to
:math:`G(z_0)`, its measurements and its measurement error. The :math:`\eta` slider spans
the direction's feasible interval (:func:`eglass.reach.reach`), so every position on it is a
solution.

:class:`Explorer` does the work (directions and walks cached); its static picture of any
setting is :func:`eglass.figures.explorer_figure` (:meth:`Explorer.figure`), which a built
book shows beside the widget; :func:`explorer` wraps it in ``ipywidgets`` for a live
notebook.

>>> import torch
>>> from eglass import models, operators
>>> from eglass.problem import InverseProblem
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> z0 = torch.zeros(1, 64)
>>> x0 = G(z0)
>>> H = torch.eye(64)
>>> core = Explorer(InverseProblem(G, A, A(x0)), z0, H, H)
>>> round(core.solution("eigenvector", K=1, eta=0.0)["error"], 6)
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch

from .directions import Direction, check_indices
from .explore import METHODS
from .figures import explorer_figure
from .methods import get_method, walk_index, walk_settings
from .problem import InverseProblem, accepts_problem
from .reach import last_feasible, reach
from .walk import WalkPath, WalkSettings, null_space_walk

__all__ = ["Explorer", "explorer"]


class Explorer:
    r"""Solutions :math:`G(z_0 + \eta d)` on demand, directions and walks cached.

    Args:
        problem: the :class:`eglass.problem.InverseProblem` of one measurement on the
            generator of ``z0``; its distance, if any, is shown in the title and steers the
            ``"walk"`` (older form: ``Explorer(G, A, y, z0, H_Y, H_X, distance=...)``).
        z0: latent ``(1, d)``; H_Y, H_X: metrics ``(d, d)`` at ``z0``.
        threshold, top, regularization: direction settings (:mod:`eglass.directions`);
            ``None``: resolved (:func:`eglass.settings.resolve`: the prior's, e.g.
            ``top``, else the method's). ``resolved`` records each with its source.
        eta_max: the largest :math:`|\eta|` offered, > 0; walks are computed to it once per
            (K, sign) in ``walk_steps`` steps and read at the nearest step.
        tau: feasibility threshold, > 0; ``None``: the problem's
            (:attr:`eglass.problem.InverseProblem.tau`, from the noise where it is known).
    """

    @accepts_problem("A", "y")
    def __init__(
        self,
        problem: InverseProblem,
        z0: torch.Tensor,
        H_Y: torch.Tensor,
        H_X: torch.Tensor,
        *,
        threshold: float | None = None,
        top: int | None = None,
        regularization: float | None = None,
        eta_max: float = 4.0,
        walk_steps: int = 20,
        tau: float | None = None,
    ):
        self.z0 = problem.require_one("the explorer").latent(z0)
        given = [("eta_max", eta_max)] + ([("tau", tau)] if tau is not None else [])
        for name, value in given:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.problem, self.H_Y, self.H_X = problem, H_Y, H_X
        # one resolution for every method of the widget (they share LineSettings)
        self.resolved = get_method("eglass").resolve(
            problem, threshold=threshold, top=top, regularization=regularization, tau=tau,
            walk=WalkSettings(steps=walk_steps))
        resolved = self.resolved.settings
        self.tau = float(resolved.tau)
        self.settings = dict(threshold=resolved.threshold, top=resolved.top,
                             regularization=resolved.regularization)
        self.eta_max = float(eta_max)
        self.walk = walk_settings(resolved)
        self.dim = problem.latent_dim
        self.x0 = problem.generate(self.z0)
        self._directions: dict[tuple[str, int], Direction] = {}
        self._walks: dict[tuple[int, float], WalkPath] = {}
        self._reach: dict[tuple[str, int], tuple[float, float] | None] = {}

    def direction(self, method: str, K: int) -> Direction:
        """The (cached) direction of ``method`` and 1-based ``K``."""
        key = (method, K)
        if key not in self._directions:
            chosen = get_method(method)
            settings = replace(self.resolved.settings, Ks=(K,))
            self._directions[key] = chosen.directions(self.H_Y, self.H_X, [K], settings)[0]
        return self._directions[key]

    def latent(self, method: str, K: int, eta: float) -> torch.Tensor:
        r"""The latent ``(1, d)`` of the solution: :math:`z_0 + \eta d`, or the walk's point
        nearest :math:`|\eta|` for ``"walk"``."""
        chosen = get_method(method)
        if not chosen.needs_metrics:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if abs(eta) > self.eta_max + 1e-12:
            raise ValueError(f"|eta| must be <= eta_max={self.eta_max}, got eta={eta}")
        dr = self.direction(method, K)
        if not chosen.walks:
            return self.z0 + eta * dr.d.to(self.z0)
        if eta == 0:
            return self.z0
        step = walk_index(eta, self.eta_max, self.walk.steps)
        return self.walk_path(K, 1.0 if eta > 0 else -1.0).z[step : step + 1]

    def walk_path(self, K: int, sign: float) -> WalkPath:
        """The (cached) walk from direction ``K`` to ``sign * eta_max``."""
        if (K, sign) not in self._walks:
            self._walks[(K, sign)] = null_space_walk(
                self.problem, self.z0, self.direction("walk", K), sign * self.eta_max,
                settings=self.walk)
        return self._walks[(K, sign)]

    def reach(self, method: str, K: int) -> tuple[float, float] | None:
        r"""The (cached) feasible interval of ``method``'s direction ``K`` within
        ``eta_max``: ``(minus, plus)``, the largest feasible :math:`|\eta|` on each side
        (:func:`eglass.reach.reach`; for the walk, how far it stays feasible). ``None`` when
        :math:`G(z_0)` itself is not feasible at ``tau``."""
        key = (method, K)
        if key not in self._reach:
            if self.problem.error(self.x0).item() > self.tau:
                self._reach[key] = None
            elif get_method(method).walks:
                self._reach[key] = tuple(self._walk_reach(K, sign) for sign in (-1.0, 1.0))
            else:
                found = reach(self.problem, self.z0, [self.direction(method, K)],
                              tau=self.tau, max_eta=self.eta_max)
                self._reach[key] = tuple(found.eta[0].tolist())
        return self._reach[key]

    def _walk_reach(self, K: int, sign: float) -> float:
        r"""How far the walk to ``sign * eta_max`` stays feasible, in :math:`|\eta|`."""
        path = self.walk_path(K, sign)
        return path.length[last_feasible(path, self.tau)].abs().item()

    def solution(self, method: str, K: int, eta: float) -> dict:
        """The solution image ``x`` ``(1, C, H, W)``, its measurement error, feasibility and
        perceptual distance to ``G(z0)`` (``None`` without a distance)."""
        z = self.latent(method, K, eta)
        x = self.problem.generate(z)
        with torch.no_grad():
            error = self.problem.error(x).item()
            distance = self.problem.perceptual_distance(required=False)
            perceptual = None if distance is None else distance(x, self.x0).item()
        return dict(z=z, x=x, error=error, feasible=error <= self.tau, perceptual=perceptual,
                    reach=self.reach(method, K))

    def measurement_image(self, x: torch.Tensor) -> torch.Tensor:
        """Measurements of ``x`` shown in image space: :math:`A^\\dagger A x` if the operator
        has a pseudo-inverse, else :math:`A x` when it is image-shaped."""
        A = self.problem.operator
        dagger = getattr(A, "A_dagger", None)
        with torch.no_grad():
            m = dagger(A(x)) if callable(dagger) else A(x)
        if m.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"cannot show measurements of shape {tuple(m.shape)} as images of shape "
                f"{tuple(x.shape)}: give the operator an A_dagger"
            )
        return m

    def observed_image(self) -> torch.Tensor:
        """The observed measurements in image space, :math:`A^\\dagger y` (or ``y``)."""
        dagger = getattr(self.problem.operator, "A_dagger", None)
        with torch.no_grad():
            return dagger(self.problem.y) if callable(dagger) else self.problem.y

    def figure(self, method: str = "eglass", K: int = 8, eta: float = 2.0, size: float = 1.6):
        """Draw one setting (:func:`eglass.figures.explorer_figure`); returns the figure."""
        return explorer_figure(self, method, K, eta, size)


@accepts_problem("A", "y")
def explorer(
    problem: InverseProblem,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    *,
    Ks: Sequence[int] | None = None,
    methods: Sequence[str] = METHODS,
    eta_max: float = 4.0,
    eta_step: float = 0.25,
    **settings,
):
    r"""An ``ipywidgets`` explorer: a method dropdown (on ``"eglass"`` first) and sliders for K
    and :math:`\eta`.

    The :math:`\eta` slider spans the chosen direction's feasible interval within
    ``eta_max`` (:meth:`Explorer.reach`, on the slider's ``eta_step`` grid), so it ends where
    the solutions stop being feasible; the status line says where that is. Each change
    prints the measurement error of the new solution in that line (CSS class
    ``eglass-explorer-status``) and draws :meth:`Explorer.figure` into an output area (the
    browser test drives both). ``settings`` go to
    :class:`Explorer`. Returns the widget box; its ``.explorer`` attribute is the
    :class:`Explorer` (use ``.explorer.figure(...)`` for a static figure beside it).
    Older form: ``explorer(G, A, y, z0, H_Y, H_X, distance=...)``.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    core = Explorer(problem, z0, H_Y, H_X, eta_max=eta_max, **settings)
    Ks = list(range(1, min(core.dim, 20) + 1)) if Ks is None else check_indices(Ks)
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        raise ValueError(f"methods must be a non-empty list drawn from {METHODS}, "
                         f"got {methods}")
    if not (isinstance(eta_step, (int, float)) and 0 < eta_step <= core.eta_max):
        raise ValueError(f"eta_step must be in (0, eta_max={core.eta_max}], got {eta_step!r}")
    method = widgets.Dropdown(options=methods, description="method",
                              value="eglass" if "eglass" in methods else methods[0])
    K = widgets.SelectionSlider(options=Ks, value=Ks[min(7, len(Ks) - 1)], description="K")
    eta = widgets.FloatSlider(value=min(2.0, core.eta_max), min=-core.eta_max,
                              max=core.eta_max, step=eta_step, description="eta",
                              continuous_update=False)
    status = widgets.Label()
    status.add_class("eglass-explorer-status")
    out = widgets.Output()
    redrawing = []  # set while the eta slider's bounds move (its value may move with them)

    def span(change=None):
        """The eta slider over the direction's feasible interval, on the slider's grid."""
        interval = core.reach(method.value, K.value)
        minus, plus = (core.eta_max, core.eta_max) if interval is None else interval
        low = -math.floor(minus / eta_step + 1e-9) * eta_step
        high = math.floor(plus / eta_step + 1e-9) * eta_step
        redrawing.append(True)
        try:  # widen first, so that min <= max holds at every step
            eta.min, eta.max = min(eta.min, low), max(eta.max, high)
            eta.value = min(max(eta.value, low), high)
            eta.min, eta.max = low, high
        finally:
            redrawing.pop()
        draw()

    def draw(change=None):
        if redrawing:
            return
        s = core.solution(method.value, K.value, eta.value)
        verdict = "feasible" if s["feasible"] else "NOT feasible"
        interval = s["reach"]
        where = ("G(z0) is not feasible" if interval is None else
                 f"feasible for eta in [{-interval[0]:+.2f}, {interval[1]:+.2f}]")
        status.value = (f"{method.value}, K={K.value}, eta={eta.value:+.2f}: measurement error "
                        f"{s['error']:.3e} ({verdict} at tau={core.tau:.3g}; {where})")
        with out:
            out.clear_output(wait=True)
            fig = core.figure(method.value, K.value, eta.value)
            display(fig)
            plt.close(fig)

    method.observe(span, names="value")
    K.observe(span, names="value")
    eta.observe(draw, names="value")
    span()
    box = widgets.VBox([widgets.HBox([method, K, eta]), status, out])
    box.explorer = core
    return box

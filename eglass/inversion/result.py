r"""What an inversion returns: :class:`InversionResult`, one solution per measurement."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..display import Summarized, shape, span
from ..evaluate import TAU
from ..problem import InverseProblem

__all__ = ["InversionResult"]


@dataclass(repr=False)
class InversionResult(Summarized):
    """What :func:`eglass.inversion.invert` returns for ``N`` measurements and ``R`` random
    starts. ``print(result)`` gives a paragraph of its facts, a notebook a table.

    Attributes:
        z: latents ``(N, d)`` of the solutions.
        generators: ``N`` generators, one per measurement: the user's ``G`` itself for
            ``"latent"``, a fine-tuned deep copy (``requires_grad=False``, eval mode) for
            ``"iagan"``. Use :attr:`generator` when ``N == 1`` or ``result[i]``.
        x: solutions ``generators[i](z[i])``, images ``(N, C, H, W)`` on the generator's
            manifold (the point e-GLASS explores from).
        x_bp: back-projected images :math:`x + A^\\dagger(y - A x)` ``(N, C, H, W)``, or
            ``None`` if ``back_project=False``.
        errors: final measurement error of ``x`` per measurement ``(N,)``.
        history: measurement error after each optimizer step ``(T + 1, N)``: row 0 is the
            start, rows ``1..latent_steps`` the latent fit (of the restart finally chosen),
            the rest the fine-tuning.
        latent_steps: how many latent-fit steps ran (early stopping may cut them short).
        z_latent, x_latent: the latent fit's solution ``(N, d)`` and its image with the
            original generator ``(N, C, H, W)`` (for ``"latent"`` the same as ``z``, ``x``;
            for ``"iagan"`` the starting point of the fine-tuning).
        restart_z: every restart's latent after the latent fit ``(R, N, d)``.
        restart_errors: their measurement errors ``(R, N)``.
        seconds: wall time of the whole call; ``latent_seconds`` of its latent fit.
        method: ``"latent"`` or ``"iagan"``.
        base: the :class:`eglass.problem.InverseProblem` inverted (the user's generator).
    """

    z: torch.Tensor
    generators: list[nn.Module]
    x: torch.Tensor
    x_bp: torch.Tensor | None
    errors: torch.Tensor
    history: torch.Tensor
    latent_steps: int
    z_latent: torch.Tensor
    x_latent: torch.Tensor
    restart_z: torch.Tensor
    restart_errors: torch.Tensor
    seconds: float
    latent_seconds: float
    method: str
    base: InverseProblem

    def problem(self, i: int = 0) -> InverseProblem:
        """The problem of measurement ``i`` on the generator of its solution (for IAGAN its
        fine-tuned copy): what e-GLASS explores from."""
        return self.base.measurement(i).with_generator(self.generators[i])

    @property
    def generator(self) -> nn.Module:
        """The generator of the solution (the fine-tuned copy for IAGAN) when ``N == 1``."""
        first = self.generators[0]
        if all(g is first for g in self.generators):
            return first
        raise ValueError(
            f"this IAGAN result holds {len(self.generators)} fine-tuned generators, one per "
            "measurement; use result.generators[i] or result[i].generator"
        )

    def __len__(self) -> int:
        return self.z.shape[0]

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts ``repr`` and the notebook table show (:class:`eglass.display.Summarized`)."""
        n = len(self)
        finetune = self.history.shape[0] - 1 - self.latent_steps
        steps = f"{self.latent_steps} latent-fit" + (
            f" + {finetune} fine-tuning" if finetune > 0 else "")
        feasible = int((self.errors <= TAU).sum())
        return [
            ("method", self.method),
            ("measurements", f"{n}, {self.restart_z.shape[0]} random start(s) each"),
            ("z", shape(self.z)), ("x", shape(self.x)),
            ("measurement error", span(self.errors.min().item(), self.errors.max().item())),
            ("feasible", f"{feasible} of {n} at tau={TAU:g}"),
            ("steps", steps),
            ("back-projected", "yes" if self.x_bp is not None else "no"),
            ("time", f"{self.seconds:.2f} s (latent fit {self.latent_seconds:.2f} s)"),
            ("problem", repr(self.base)),
        ]

    def __getitem__(self, i: int) -> InversionResult:
        """The result for measurement ``i`` alone (a batch of 1)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"measurement index {i} out of range for {n} measurement(s)")
        s = slice(i, i + 1 if i != -1 else None)
        return replace(
            self,
            z=self.z[s],
            generators=self.generators[s],
            x=self.x[s],
            x_bp=None if self.x_bp is None else self.x_bp[s],
            errors=self.errors[s],
            history=self.history[:, s],
            z_latent=self.z_latent[s],
            x_latent=self.x_latent[s],
            restart_z=self.restart_z[:, s],
            restart_errors=self.restart_errors[:, s],
        )

    def with_rows(self, rows: torch.Tensor, full: InversionResult) -> InversionResult:
        """This result with the measurements ``rows`` taken from ``full`` (their own
        inversion, of ``len(rows)`` measurements); ``history`` is padded with its last row
        to the longer of the two."""

        def put(into, part):
            if into is None:
                return None
            out = into.clone()
            out[rows.to(out.device)] = part.to(out)
            return out

        steps = max(len(self.history), len(full.history))

        def padded(h):
            return torch.cat([h, h[-1:].expand(steps - len(h), -1)])

        history = padded(self.history)
        history[:, rows] = padded(full.history)
        generators = list(self.generators)
        for i, g in zip(rows.tolist(), full.generators, strict=True):
            generators[i] = g
        return replace(self, z=put(self.z, full.z), generators=generators,
                       x=put(self.x, full.x), x_bp=put(self.x_bp, full.x_bp),
                       errors=put(self.errors, full.errors), history=history,
                       z_latent=put(self.z_latent, full.z_latent),
                       x_latent=put(self.x_latent, full.x_latent),
                       seconds=self.seconds + full.seconds, method="iagan")

"""Presentation tables: results as ``pandas.DataFrame`` for the book and the benchmarks.

- :func:`compare_solutions` / :func:`candidates_table`: the candidate images of an inversion
  (latent fit, IAGAN, their back-projections) with their measurement errors and PSNRs.
"""

from __future__ import annotations

import torch

from .evaluate import TAU_STRICT, measurement_error, psnr
from .inversion import InversionResult, back_project
from .operators import as_operator

__all__ = ["compare_solutions", "candidates_table"]


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

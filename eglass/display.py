"""How the result objects print: one paragraph as text, one table in a notebook.

A result class (:class:`eglass.results.Solutions`, :class:`eglass.inversion.InversionResult`,
:class:`eglass.explore.StartingPoint`, :class:`eglass.geometry.MetricSpectra`,
:class:`eglass.directions.Direction`) lists its facts once, as ``(label, text)`` rows in
``summary_rows()``; :class:`Summarized` makes of them its ``repr`` and ``str`` (a paragraph of
a few lines, never a tensor's values) and its ``_repr_html_`` (a two-column table, which
Jupyter shows in place of the text).

>>> class Fit(Summarized):
...     def summary_rows(self):
...         return [("steps", "30"), ("error", span(1e-4, 2.5e-2))]
>>> Fit()
Fit: steps 30; error 1.00e-04 to 2.50e-02
>>> print(Fit()._repr_html_().splitlines()[0])
<table class="eglass-summary">
"""

from __future__ import annotations

import html
import math
import numbers
import textwrap

import torch

__all__ = ["Summarized", "paragraph", "table", "shape", "span", "brief", "settings_text"]

WIDTH = 100  # characters per line of the text form
LIMIT = 160  # characters of one value at most (settings and lists are cut with "...")


class Summarized:
    """Mixin: ``repr``/``str`` as one paragraph and ``_repr_html_`` as a table, both made from
    ``summary_rows()`` (a subclass defines it; a dataclass subclass needs ``repr=False`` so
    that its generated ``__repr__`` does not replace this one)."""

    def summary_title(self) -> str:
        """The name the summary starts with (the class name)."""
        return type(self).__name__

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts, as ``(label, text)`` pairs, in reading order."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return paragraph(self.summary_title(), self.summary_rows())

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        return table(self.summary_title(), self.summary_rows())


def _cut(text: str, limit: int = LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def paragraph(title: str, rows: list[tuple[str, str]], width: int = WIDTH) -> str:
    """``"Title: label text; label text; ..."`` wrapped at ``width`` characters, continuation
    lines indented by two spaces."""
    body = "; ".join(f"{label} {_cut(text)}" for label, text in rows)
    return textwrap.fill(f"{title}: {body}", width=width, subsequent_indent="  ",
                         break_on_hyphens=False)


def table(title: str, rows: list[tuple[str, str]]) -> str:
    """The rows as an HTML table with the title as its caption (every text escaped)."""
    cells = "".join(
        f"<tr><th style=\"text-align:left\">{html.escape(label)}</th>"
        f"<td style=\"text-align:left\">{html.escape(_cut(text))}</td></tr>"
        for label, text in rows)
    return (f"<table class=\"eglass-summary\">\n<caption style=\"text-align:left\">"
            f"<b>{html.escape(title)}</b></caption>\n{cells}\n</table>")


def shape(t) -> str:
    """``"(12, 1, 32, 32)"`` for a tensor (or anything with ``.shape``), ``"none"`` for None."""
    return "none" if t is None else str(tuple(t.shape))


def span(lo: float, hi: float, fmt: str = ".2e") -> str:
    """``"lo to hi"`` (one number when they are equal)."""
    if lo == hi:
        return format(lo, fmt)
    return f"{format(lo, fmt)} to {format(hi, fmt)}"


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(value)
    value = float(value)
    return str(value) if math.isnan(value) else format(value, ".4g")


def brief(value, limit: int = 60) -> str:
    """Short text of a setting's value: numbers to 4 digits, tensors as their shape,
    sequences and dicts element by element, anything longer than ``limit`` cut."""
    if isinstance(value, torch.Tensor):
        text = (_number(value.item()) if value.numel() == 1
                else f"tensor{shape(value)}")
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {brief(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "(" + ", ".join(brief(v, limit) for v in value) + ")"
    elif isinstance(value, torch.nn.Module):
        text = type(value).__name__
    else:
        text = _number(value) if isinstance(value, numbers.Number) else str(value)
    return _cut(text, limit)


def settings_text(params: dict, limit: int = LIMIT, skip: tuple[str, ...] = ()) -> str:
    """``"key=value, ..."`` of a settings dict (values by :func:`brief`; keys in ``skip`` and
    ``None`` values left out), cut at ``limit``."""
    return _cut(", ".join(f"{k}={brief(v)}" for k, v in params.items()
                          if v is not None and k not in skip), limit)

"""Small shared helpers: the one set of input checks (every message says what was expected
and what was given), seeded generators, timing."""

from __future__ import annotations

import math
import numbers
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch

__all__ = [
    "check_eval_mode",
    "check_finite",
    "check_number",
    "check_one_of",
    "check_positive_int",
    "format_shape",
    "check_images",
    "check_latents",
    "check_generator",
    "make_generator",
    "median_time",
    "progress_bar",
    "stopwatch",
]


def format_shape(shape, batch: str | None = None) -> str:
    """``(N,1,8,8)``-style text of a shape (a ``torch.Size``, tuple or tensor); ``batch``
    replaces the first entry (e.g. ``"N"``).

    >>> format_shape((2, 1, 8, 8), batch="N")
    '(N,1,8,8)'
    """
    dims = [str(s) for s in (shape.shape if isinstance(shape, torch.Tensor) else shape)]
    if batch is not None and dims:
        dims[0] = batch
    return "(" + ",".join(dims) + ")"


def check_finite(name: str, t: torch.Tensor) -> torch.Tensor:
    """Raise ``ValueError`` if ``t`` holds NaN or inf; return ``t`` unchanged otherwise."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.is_floating_point() or t.is_complex():
        bad = (~torch.isfinite(t)).sum().item()
        if bad:
            raise ValueError(
                f"{name} contains {bad} NaN/inf value(s) out of {t.numel()} "
                f"(shape {format_shape(t)}); expected finite values"
            )
    return t


def check_positive_int(name: str, value, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer (Python or numpy, not a ``bool``)
    ``>= minimum``; raise ``ValueError`` naming ``name`` otherwise.

    >>> check_positive_int("steps", 3)
    3
    >>> check_positive_int("steps", True)
    Traceback (most recent call last):
    ...
    ValueError: steps must be a positive integer, got True
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_number(name: str, value, *, minimum: float | None = None, positive: bool = False,
                 maximum: float | None = None) -> float:
    """Return ``value`` as a finite ``float`` (an int, float or numpy number, not a ``bool``
    or a string), ``> 0`` if ``positive``, within ``[minimum, maximum]`` where given; raise
    ``ValueError`` naming ``name`` otherwise.

    >>> check_number("tau", 1e-2, positive=True)
    0.01
    >>> check_number("tau", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: tau must be a finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def check_one_of(name: str, value, choices) -> object:
    """Return ``value`` if it is one of ``choices``; raise ``ValueError`` listing them.

    >>> check_one_of("method", "walk", ("eglass", "walk"))
    'walk'
    """
    choices = tuple(choices)
    if not isinstance(value, str | int) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                         f"got {value!r}")
    return value


def check_eval_mode(module: torch.nn.Module, what: str = "generator", symbol: str = "G") -> None:
    """The one eval-mode rule: a module whose output depends on its mode (it holds
    BatchNorm or Dropout layers) must be in eval mode, so that ``G(z)`` is a function of
    ``z``; a module without such layers may be in either mode. eglass never switches a
    user's module itself."""
    moded = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.modules.dropout._DropoutNd)
    training = [name or type(module).__name__ for name, m in module.named_modules()
                if m.training and isinstance(m, moded)]
    if training:
        raise ValueError(
            f"the {what} has batch-norm/dropout layers in training mode ({training[:3]}), whose "
            f"output would change with the batch; eglass needs it in eval mode and never "
            f"switches your model: call {symbol}.eval() first")


def check_images(name: str, x: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """Check that ``x`` is a finite image batch of shape ``(N, C, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N,C,H,W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N,C,H,W), got {format_shape(x)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got shape {format_shape(x)}")
    return check_finite(name, x)


def check_generator(G: torch.nn.Module) -> int:
    """Return ``G.latent_dim``; raise a clear error if ``G`` does not follow the protocol.

    A generator is any ``nn.Module`` mapping latents ``(N, d)`` to images ``(N, C, H, W)``
    with an integer attribute ``latent_dim == d``.
    """
    d = getattr(G, "latent_dim", None)
    if not isinstance(d, int) or d < 1:
        raise TypeError(
            f"generator {type(G).__name__} must expose an integer attribute `latent_dim` "
            f"(the d of its (N,d) input), got {d!r}"
        )
    return d


def check_latents(name: str, z: torch.Tensor, latent_dim: int) -> torch.Tensor:
    """Check that ``z`` is a finite latent batch of shape ``(N, latent_dim)``."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N,{latent_dim})")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"{name} must have shape (N,{latent_dim}), got {format_shape(z)}")
    return check_finite(name, z)


def make_generator(
    seed: int | torch.Generator, device: torch.device | str = "cpu"
) -> torch.Generator:
    """A ``torch.Generator`` from an integer seed (or the generator itself, passed through)."""
    if isinstance(seed, torch.Generator):
        return seed
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a torch.Generator, got {type(seed).__name__}")
    return torch.Generator(device=device).manual_seed(seed)


@contextmanager
def stopwatch():
    """Context manager measuring wall time: ``with stopwatch() as t: ...; t()`` -> seconds."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs.

    The one timing helper used by every benchmark.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


LOG_INTERVAL = 30.0
"""Seconds between two progress lines when the bar goes to a file or a pipe."""


class _Lines:
    """A stream for tqdm that writes each refresh as one line: no carriage returns in logs."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where tqdm draws a widget)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in shell.config


def progress_bar(*, total: int, desc: str, enabled: bool = True, file=None, **kwargs):
    """A tqdm bar that suits where it is shown.

    In a notebook, tqdm's widget; on a terminal, the full bar; written to a file or a pipe
    (a log, CI's output), one plain line every ``LOG_INTERVAL`` seconds instead of a
    carriage-return update many times a second. ``kwargs`` go to tqdm (``leave``, ``unit``,
    ``initial``, ...).

    >>> import io
    >>> log = io.StringIO()
    >>> with progress_bar(total=3, desc="fit", file=log, leave=True) as bar:
    ...     bar.update(3)
    >>> "\\r" in log.getvalue(), log.getvalue().splitlines()[-1].startswith("fit: 100%")
    (False, True)
    """
    from tqdm import tqdm as plain

    stream = sys.stderr if file is None else file
    if file is None and _in_notebook():
        from tqdm.auto import tqdm as widget

        return widget(total=total, desc=desc, disable=not enabled, **kwargs)
    if getattr(stream, "isatty", lambda: False)():
        return plain(total=total, desc=desc, disable=not enabled, file=stream, **kwargs)
    return plain(total=total, desc=desc, disable=not enabled, file=_Lines(stream),
                 mininterval=LOG_INTERVAL, maxinterval=LOG_INTERVAL, ascii=True, **kwargs)

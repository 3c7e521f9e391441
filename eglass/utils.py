"""Small shared helpers: input checks with clear messages, seeded generators, timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch

__all__ = [
    "check_finite",
    "format_shape",
    "check_images",
    "check_latents",
    "check_generator",
    "make_generator",
    "median_time",
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


def check_positive_int(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is an ``int`` (not a ``bool``) ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


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

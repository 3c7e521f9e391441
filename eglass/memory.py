r"""Memory of the metric computations: what one pass holds, what the machine has, what a call used.

The exact metrics :math:`H = J^\top J` can be built a block of latent directions at a time
(:func:`eglass.geometry.metrics` with ``chunk_size`` or ``max_memory``); this module supplies the
numbers that choose the block: the bytes autograd keeps for one backward pass
(:func:`saved_bytes`), the memory free on the device (:func:`available_memory`), and, to check a
cap, the peak memory a call actually reached (:func:`peak_memory`: ``VmHWM`` of this process on
Linux, ``torch.cuda.max_memory_allocated`` on CUDA).

>>> import torch
>>> residual = saved_bytes(lambda z: torch.tanh(z @ torch.ones(4, 1000)), torch.zeros(1, 4))
>>> residual >= 1000 * 4  # tanh keeps its (1, 1000) float32 output for the backward pass
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["saved_bytes", "available_memory", "peak_memory", "Peak"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def saved_bytes(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for the backward pass of ``fn`` at ``z``: what a
    ``torch.func.vjp`` closure of ``fn`` keeps alive (each storage counted once; parameters a
    layer saves are counted too, so the figure errs on the high side)."""
    seen: dict[tuple[int, torch.device], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), t.device)] = storage.nbytes()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(z.detach().clone().requires_grad_(True))
    return sum(seen.values())


def available_memory(device: torch.device | str = "cpu") -> int:
    """Bytes free for new tensors on ``device``: ``torch.cuda.mem_get_info`` on CUDA,
    ``MemAvailable`` of ``/proc/meminfo`` on the CPU (``RuntimeError`` where neither exists)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    raise RuntimeError("cannot tell the free memory of this machine (no /proc/meminfo); "
                       "pass max_memory= in bytes")


@dataclass
class Peak:
    """Peak memory of a block of code, filled in when its ``with`` block ends.

    Attributes:
        bytes: peak minus the level at entry (``None`` where it cannot be measured).
        how: ``"cuda"`` (allocator statistics) or ``"rss"`` (the process's ``VmHWM``).
    """

    bytes: int | None = None
    how: str = ""


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@contextmanager
def peak_memory(device: torch.device | str = "cpu") -> Iterator[Peak]:
    """Measure the peak memory used inside the block, above the level at entry.

    On CUDA: ``torch.cuda.max_memory_allocated`` after a reset. On the CPU: the resident-set
    high-water mark ``VmHWM`` of this process, reset at entry by writing ``5`` to
    ``/proc/self/clear_refs`` (Linux); it counts every allocation of the process, threads
    included, so measure one thing at a time. Where neither works, ``peak.bytes`` is ``None``.

    >>> import torch
    >>> with peak_memory() as peak:
    ...     x = torch.ones(4_000_000)  # 16 MB (less if the allocator reuses freed pages)
    >>> peak.how in ("rss", "cuda", "")
    True
    """
    device = torch.device(device)
    peak = Peak()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield peak
        torch.cuda.synchronize(device)
        peak.bytes, peak.how = torch.cuda.max_memory_allocated(device) - start, "cuda"
        return
    try:
        _CLEAR_REFS.write_text("5")
        start = _status_kib("VmRSS")
    except (OSError, KeyError):
        yield peak
        return
    yield peak
    peak.bytes, peak.how = (_status_kib("VmHWM") - start) * 1024, "rss"

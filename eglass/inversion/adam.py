"""The Adam driver of the inversion: many independent fits as one batch, each measurement
frozen as soon as one of its rows reaches the stopping level."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..utils import progress_bar

__all__ = ["adam_fit"]


def adam_fit(
    groups: list[tuple[torch.Tensor, float]],
    errors_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    stop: float,
    restarts: int,
    n: int,
    progress: bool,
    desc: str,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Adam on tensors whose leading dim is ``restarts * n`` rows (row ``r*n + i`` fits
    measurement ``i``); a measurement is frozen once one of its rows has error ``<= stop``.

    Args:
        groups: ``(tensor, learning rate)`` pairs, one Adam parameter group each (copied, the
            tensors given are not changed).
        errors_fn: ``(*tensors) -> (errors, loss)``, both ``(restarts * n,)``: the errors
            decide the stopping, the loss is minimized.
        steps: most optimizer steps; stop: the stopping level.
        progress, desc: a tqdm bar and its label.

    Returns the final tensors and the errors after each step ``(T + 1, restarts, n)``.

    >>> target = torch.tensor([1.0, 2.0])
    >>> def errors(z):
    ...     e = (z - target).pow(2)
    ...     return e, e
    >>> (z,), history = adam_fit([(torch.zeros(2), 0.1)], errors, 500, 1e-6, 1, 2, False, "")
    >>> bool(history[-1].max() <= 1e-6), history.shape[1:]
    (True, torch.Size([1, 2]))
    """
    tensors = [t.detach().clone().requires_grad_(True) for t, _ in groups]
    lrs = [lr for _, lr in groups]
    opt = torch.optim.Adam([{"params": [t], "lr": lr} for t, lr in zip(tensors, lrs, strict=True)])
    frozen = [t.detach().clone() for t in tensors]
    done = torch.zeros(n, dtype=torch.bool, device=tensors[0].device)
    history = []
    bar = progress_bar(total=steps, desc=desc, enabled=progress, leave=False)
    for step in range(steps + 1):
        errs, loss = errors_fn(*tensors)
        errs = errs.detach().view(restarts, n)
        history.append(errs)
        newly = (errs.min(dim=0).values <= stop) & ~done
        if step == steps or bool((done | newly).all()):
            break
        if newly.any():
            rows = newly.repeat(restarts)
            with torch.no_grad():
                for f, t in zip(frozen, tensors, strict=True):
                    f[rows] = t[rows]
            done |= newly
        opt.zero_grad(set_to_none=True)
        loss.view(restarts, n)[:, ~done].sum().backward()
        opt.step()
        if done.any():
            rows = done.repeat(restarts)
            with torch.no_grad():
                for f, t in zip(frozen, tensors, strict=True):
                    t[rows] = f[rows]
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(worst=f"{errs.min(dim=0).values.max().item():.2e}")
    bar.close()
    hist = torch.stack(history)  # frozen rows were restored, so their errors stay put
    return [t.detach() for t in tensors], hist

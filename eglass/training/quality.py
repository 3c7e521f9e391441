"""Quality of a trained prior: classifier embeddings, the Fréchet distance, confidence and
class fractions of samples, how well real images can be reached, nearest neighbours."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from torch import nn

from ..evaluate import psnr
from ..networks import DigitClassifier
from ..utils import check_generator, check_images, make_generator
from .gan import sample


@torch.no_grad()
def embeddings(
    classifier: DigitClassifier, images: torch.Tensor, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classifier embeddings ``(N, 128)`` and class probabilities ``(N, 10)`` of ``images``."""
    emb, prob = [], []
    for i in range(0, images.shape[0], batch_size):
        e = classifier.embed(images[i : i + batch_size])
        emb.append(e)
        prob.append(classifier.fc(e).softmax(dim=1))
    return torch.cat(emb), torch.cat(prob)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to feature sets ``a (N, k)``, ``b (M, k)``:
    :math:`\|\mu_a-\mu_b\|^2 + \operatorname{tr}(\Sigma_a+\Sigma_b-2(\Sigma_a\Sigma_b)^{1/2})`."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features must be (N,k) and (M,k) with the same k, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    a64, b64 = a.double().cpu().numpy(), b.double().cpu().numpy()
    mu_a, mu_b = a64.mean(0), b64.mean(0)
    cov_a, cov_b = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def sample_quality(
    G: nn.Module,
    classifier: DigitClassifier,
    reference: torch.Tensor,
    *,
    n: int = 10_000,
    seed: int = 0,
    threshold: float = 0.9,
) -> dict:
    """Quality figures of ``n`` samples of ``G`` measured with ``classifier``.

    Args:
        reference: real images ``(M, 1, 32, 32)`` (the held-out ``test`` split) for the
            Fréchet distance.

    Returns:
        ``{"n", "confidence", "class_fractions" (10 floats), "min_class_fraction",
        "max_class_fraction", "frechet"}`` where confidence is the fraction of samples with
        max-softmax ``>= threshold``.
    """
    x = sample(G, n, seed=seed)
    emb, prob = embeddings(classifier, x)
    ref_emb, _ = embeddings(classifier, reference)
    conf, pred = prob.max(dim=1)
    fractions = torch.bincount(pred, minlength=prob.shape[1]).double() / n
    return {
        "n": n,
        "confidence": (conf >= threshold).double().mean().item(),
        "class_fractions": [round(f, 4) for f in fractions.tolist()],
        "min_class_fraction": fractions.min().item(),
        "max_class_fraction": fractions.max().item(),
        "frechet": frechet_distance(emb, ref_emb),
    }


def invert_latent(
    G: nn.Module,
    x: torch.Tensor,
    *,
    steps: int = 300,
    restarts: int = 4,
    lr: float = 0.05,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fully observed latent-only inversion :math:`\min_z \|G(z) - x\|^2`, best of restarts.

    Adam on ``restarts`` random starts per image (all batched), cosine-decayed step size;
    keeps, per image, the start with the lowest final error. A small measurement used to
    check how well held-out digits can be reached (the general solver is
    :func:`eglass.inversion.invert`).

    Args:
        x: target images ``(N, C, H, W)``.

    Returns:
        ``(z, psnr)``: best latents ``(N, d)`` and their PSNR in dB ``(N,)``.
    """
    d = check_generator(G)
    check_images("x", x)
    g = make_generator(seed)
    n = x.shape[0]
    z = torch.randn(restarts * n, d, generator=g).to(x.device).requires_grad_(True)
    target = x.repeat(restarts, 1, 1, 1)
    opt = torch.optim.Adam([z], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = (G(z) - target).pow(2).flatten(1).mean(1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        err = (G(z) - target).pow(2).flatten(1).mean(1).view(restarts, n)
        best = err.argmin(dim=0)
        z_best = z.detach().view(restarts, n, d)[best, torch.arange(n)]
        return z_best, psnr(G(z_best), x)


@torch.no_grad()
def nearest_neighbours(
    queries: torch.Tensor, reference: torch.Tensor, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""For each query image, its nearest ``reference`` image in pixel space.

    Distances are root-mean-square differences on the [0, 1] scale,
    :math:`\sqrt{\operatorname{mean}(((x_q - x_r)/2)^2)}`.

    Args:
        queries: ``(N, C, H, W)``; reference: ``(M, C, H, W)``.

    Returns:
        ``(distance (N,), index (N,))`` of the nearest reference image.
    """
    check_images("queries", queries)
    check_images("reference", reference)
    if queries.shape[1:] != reference.shape[1:]:
        raise ValueError(
            f"queries have images of shape {tuple(queries.shape[1:])} but reference has "
            f"{tuple(reference.shape[1:])}; expected the same"
        )
    ref = reference.flatten(1) / 2
    dist, index = [], []
    for i in range(0, queries.shape[0], batch_size):
        dmin, imin = torch.cdist(queries[i : i + batch_size].flatten(1) / 2, ref).min(dim=1)
        dist.append(dmin)
        index.append(imin)
    return torch.cat(dist) / ref.shape[1] ** 0.5, torch.cat(index)

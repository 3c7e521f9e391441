r"""Generators saved from the PyTorch DCGAN tutorial (Radford et al. 2016): :func:`load_dcgan`.

The tutorial's generator (``beginner_source/dcgan_faces_tutorial.py``) is one
``nn.Sequential`` called ``main``: a 4x4 transposed convolution of the latent ``(N, d, 1, 1)``
to ``(N, 8g, 4, 4)``, then stride-2 4x4 transposed convolutions that double the size and halve
the width, each followed by BatchNorm and ReLU, and a last one to ``C`` channels with
:math:`\tanh`. Its state dict has ``main.0.weight``, ``main.1.*`` (BatchNorm),
``main.3.weight``, ... , ``main.{3L-3}.weight`` for ``L`` convolutions (five for 64x64
images). Many DCGANs people train keep this layout, often saved as a dict that holds the
generator's state dict under a key such as ``"netG_state_dict"``.

:class:`DCGANGenerator` is that network with the generator protocol of eglass: it takes
latents ``(N, d)``; every size is read from the checkpoint's tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .checkpoints import check_sha256, check_state, state_mismatch
from .utils import check_positive_int, format_shape

__all__ = ["DCGANGenerator", "dcgan_sizes", "load_dcgan"]


class DCGANGenerator(nn.Module):
    r"""The PyTorch DCGAN-tutorial generator on latents ``(N, d)``: images
    ``(N, channels, R, R)`` in [-1, 1] with ``R = 4 * 2^len(widths)`` (64 for the tutorial's
    four widths).

    Args:
        latent_dim: ``d`` (the tutorial's ``nz``).
        widths: channels after each hidden transposed convolution (the tutorial's
            ``(8g, 4g, 2g, g)`` with ``g = ngf``).
        channels: image channels (``nc``).

    The parameter names are upstream's (``main.0.weight`` ...), so a tutorial state dict
    loads with ``strict=True``; the ReLUs are not in place (``torch.func`` transforms go
    through).

    >>> G = DCGANGenerator(8, (16, 8), channels=3).eval()
    >>> tuple(G(torch.zeros(2, 8)).shape), G.image_shape
    ((2, 3, 16, 16), (3, 16, 16))
    """

    def __init__(self, latent_dim: int = 100, widths: Sequence[int] = (512, 256, 128, 64),
                 channels: int = 3):
        super().__init__()
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.widths = tuple(check_positive_int("widths", w) for w in widths)
        self.channels = check_positive_int("channels", channels)
        if not self.widths:
            raise ValueError("widths must list at least one hidden width")
        layers: list[nn.Module] = []
        sizes = (self.latent_dim, *self.widths)
        for i, (c_in, c_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            first = i == 0
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 1 if first else 2, 0 if first else 1,
                                          bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(sizes[-1], self.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        side = 4 * 2 ** len(self.widths)
        self.image_shape = (self.channels, side, side)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z (N, d)`` -> images ``(N, C, R, R)``."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"DCGANGenerator expects latents (N,{self.latent_dim}), got "
                             f"{format_shape(z.shape)}")
        return self.main(z[:, :, None, None])

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, widths={self.widths}, channels={self.channels}"


def dcgan_sizes(state: dict) -> dict:
    """``DCGANGenerator`` arguments read from a tutorial state dict's tensors: the latent
    size and the hidden widths from the transposed convolutions ``main.{3i}.weight``
    (``(c_in, c_out, 4, 4)``), the channels from the last one.

    >>> dcgan_sizes(DCGANGenerator(8, (16, 8)).state_dict())
    {'latent_dim': 8, 'widths': (16, 8), 'channels': 3}
    """
    convs = []
    while f"main.{3 * len(convs)}.weight" in state:
        convs.append(state[f"main.{3 * len(convs)}.weight"])
    if len(convs) < 2 or any(w.ndim != 4 for w in convs):
        found = [f"main.{3 * i}.weight {format_shape(w.shape)}" for i, w in enumerate(convs)]
        raise ValueError(
            "expected the PyTorch DCGAN-tutorial generator: transposed convolutions "
            "main.0.weight, main.3.weight, ... of shape (c_in, c_out, 4, 4), at least two; "
            f"found {found or 'none'} among keys {sorted(state)[:8]}")
    return dict(latent_dim=int(convs[0].shape[0]),
                widths=tuple(int(w.shape[1]) for w in convs[:-1]),
                channels=int(convs[-1].shape[1]))


def _read_state(path: Path, key: str | None) -> dict:
    """The generator's state dict in the file: the file itself, or its entry ``key``."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the weights-only unpickler raises many types on bad bytes
        raise ValueError(f"{path} is not a readable PyTorch checkpoint: torch.load("
                         f"weights_only=True) raised {type(err).__name__}") from err
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} holds a {type(ckpt).__name__}, expected a state dict")
    held = sorted(str(k) for k, v in ckpt.items() if isinstance(v, dict))
    if key is not None:
        if key not in ckpt or not isinstance(ckpt[key], dict):
            raise ValueError(f"{path} has no state dict under key {key!r}; its entries that "
                             f"are dicts: {held}")
        ckpt = ckpt[key]
    elif held:  # a dict of dicts: the generator's state dict is one of them
        raise ValueError(f"{path} is not a bare state dict; pass key= one of its entries "
                         f"that are dicts: {held} (e.g. key='netG_state_dict')")
    check_state(path, "the state dict" + ("" if key is None else f" under {key!r}"), ckpt)
    prefix = "module."  # saved from nn.DataParallel (the tutorial's ngpu > 1)
    if ckpt and all(k.startswith(prefix) for k in ckpt):
        ckpt = {k[len(prefix):]: v for k, v in ckpt.items()}
    return ckpt


def load_dcgan(path: str | Path, *, key: str | None = None, latent_dim: int | None = None,
               sha256: str | None = None) -> DCGANGenerator:
    """The generator of a PyTorch DCGAN-tutorial checkpoint, on latents ``(N, d)``.

    Args:
        path: a file saved with ``torch.save``: the generator's state dict itself, or a dict
            holding it under ``key``.
        key: e.g. ``"netG_state_dict"``; ``None``: the file is the state dict.
        latent_dim: if given, the ``d`` the checkpoint must have (it is read from
            ``main.0.weight`` either way).
        sha256: if given, the SHA-256 the file must have.

    Read with ``torch.load(map_location="cpu", weights_only=True)`` (CUDA-saved tensors
    load on any machine; nothing but tensors and plain containers is unpickled); a
    ``module.`` prefix (``nn.DataParallel``) is dropped. Sizes come from the tensors
    (:func:`dcgan_sizes`); the state dict then loads with ``strict=True``, and a mismatch
    names the missing, unexpected or wrongly shaped keys. Returns the generator in eval
    mode (BatchNorm running statistics), gradients off.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "g.pt"
    ...     torch.save({"netG_state_dict": DCGANGenerator(8, (16, 8)).state_dict()}, path)
    ...     G = load_dcgan(path, key="netG_state_dict")
    >>> G.latent_dim, G.image_shape, G.training
    (8, (3, 16, 16), False)
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"load_dcgan expects a checkpoint file, but {path} does not "
                                "exist")
    check_sha256(path, sha256)
    state = _read_state(path, key)
    try:
        sizes = dcgan_sizes(state)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if latent_dim is not None and check_positive_int("latent_dim", latent_dim) != \
            sizes["latent_dim"]:
        raise ValueError(f"{path}: latent_dim={latent_dim} was asked for, but main.0.weight "
                         f"{format_shape(state['main.0.weight'].shape)} takes "
                         f"{sizes['latent_dim']}-d latents")
    G = DCGANGenerator(**sizes)
    problems = state_mismatch(G.state_dict(), state)
    if problems:
        raise ValueError(f"{path}: the state dict does not fit the DCGAN-tutorial generator "
                         f"{sizes}: " + "; ".join(problems))
    G.load_state_dict(state, strict=True)
    return G.eval().requires_grad_(False)

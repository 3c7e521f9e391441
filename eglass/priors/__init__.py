r"""Priors as registered plugins: a generator with what eglass needs to know about it.

A :class:`Prior` says how to load a generator and what goes with it: its image shape and
latent dimension, its default perceptual distance, and optionally a classifier (to count
classes among solutions), an encoder (the fast start), a data set, default settings of the
methods (e.g. Algorithm 1's ``top``) and a citation or licence line. Nothing below this
registry names a prior; a prior's plugin module registers it.

- :func:`get_prior` resolves a registered name (``"mnist-dcgan"``) or a *reference* to weights
  on disk, ``"SCHEME:PATH[?key=value&...]"`` (``"pggan:PATH"``, ``"biggan:FOLDER?class=207"``)
  or the path of a :func:`eglass.checkpoints.save_checkpoint` file;
- :func:`register_prior` adds a named prior, :func:`register_scheme` a reference form;
- :func:`list_priors` lists both; :func:`prior_of` finds the prior a generator came from.

The built-in plugins are imported on first use (below); another package registers its own
priors by importing this module and calling :func:`register_prior`.

>>> prior = get_prior("mnist-dcgan")
>>> prior.latent_dim, prior.image_shape
(64, (1, 32, 32))
>>> prior_of(prior.generator()) is prior
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import torch
from torch import nn

from ..utils import check_positive_int, make_generator

__all__ = [
    "Prior",
    "Scheme",
    "get_prior",
    "register_prior",
    "register_scheme",
    "list_priors",
    "list_schemes",
    "prior_of",
    "default_prior",
]

# Modules that register the priors and schemes shipped with eglass, imported on first lookup.
BUILTIN_PLUGINS = ("eglass.priors.digits", "eglass.priors.files", "eglass.priors.stylegan",
                   "eglass.priors.faces")

# Truths G(z*) for --data samples come from seeds offset by this, so that no other part of
# eglass (inversion restarts, methods, noise) draws the same numbers.
SAMPLES_SEED_OFFSET = 7_919_000

_PRIORS: dict[str, Prior] = {}
_SCHEMES: dict[str, Scheme] = {}
_RESOLVED: dict[tuple, Prior] = {}
_DEFAULT: list[str] = []
_TAG = "eglass_prior"  # the attribute a loaded generator carries: the prior's reference


class Prior:
    """One prior: a generator and what goes with it.

    Args:
        name: registered name or scheme (``"mnist-dcgan"``, ``"pggan"``).
        load: ``() -> nn.Module`` loading the generator (eval mode, ``latent_dim``).
        distance: ``() -> Distance``, a new instance of its default perceptual distance
            (:mod:`eglass.distances`).
        classifier: ``() -> nn.Module`` with ``predict_proba``, or ``None``.
        encoder: ``() -> nn.Module`` mapping :math:`A^\\dagger y` to latents for the fast
            start, or ``None`` (the fast start then begins from a Gaussian draw).
        data: ``(split) -> (images, labels)`` of its data set, or ``None``.
        defaults: settings of the methods for this prior, e.g. ``{"top": 8}``.
        citation: where the weights come from and under which licence.
        sha256: SHA-256 of its weights file, where there is one file.
        reference: the string :func:`get_prior` resolved (default: the name).
        latent_dim, image_shape: ``d`` and ``(C, H, W)``; when not given, read from one
            generator pass on first use.
        description: one line for :func:`list_priors` and ``eglass priors``.
    """

    def __init__(self, name: str, load: Callable[[], nn.Module],
                 distance: Callable[[], nn.Module], *,
                 classifier: Callable[[], nn.Module] | None = None,
                 encoder: Callable[[], nn.Module] | None = None,
                 data: Callable[[str], tuple[torch.Tensor, torch.Tensor]] | None = None,
                 defaults: dict | None = None, citation: str = "", sha256: str | None = None,
                 reference: str | None = None, latent_dim: int | None = None,
                 image_shape: tuple[int, int, int] | None = None, description: str = ""):
        self.name, self.load, self.distance = name, load, distance
        self.classifier, self.encoder, self.data = classifier, encoder, data
        self.defaults = dict(defaults or {})
        self.citation, self.sha256, self.description = citation, sha256, description
        self.reference = name if reference is None else reference
        self._shape = (latent_dim, None if image_shape is None else tuple(image_shape))
        self._encoder = self._sampler = None

    @property
    def latent_dim(self) -> int:
        """``d``: the generator takes latents ``(N, d)``."""
        if self._shape[0] is None or self._shape[1] is None:
            self.generator()
        return self._shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of its images."""
        if self._shape[0] is None or self._shape[1] is None:
            self.generator()
        return self._shape[1]

    def generator(self, device: torch.device | str | None = None) -> nn.Module:
        """A freshly loaded generator (eval mode), tagged so that :func:`prior_of` finds
        this prior; on ``device`` if given. Each call loads it again (a caller may change
        its copy); the global torch RNG is left as it was."""
        with torch.random.fork_rng(devices=[]):
            G = self.load()
        setattr(G, _TAG, self.reference)
        if self._shape[0] is None or self._shape[1] is None:
            self._shape = _read_shape(self.name, G)
        return G if device is None else G.to(device)

    def fast_start_encoder(self) -> nn.Module | None:
        """Its encoder for the fast start (loaded once per prior), or ``None``."""
        if self.encoder is None:
            return None
        if self._encoder is None:
            with torch.random.fork_rng(devices=[]):
                self._encoder = self.encoder()
        return self._encoder

    def default_distance(self) -> nn.Module:
        """A new instance of its default perceptual distance (the global torch RNG is left
        as it was)."""
        with torch.random.fork_rng(devices=[]):
            return self.distance()

    def samples(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z*, G(z*))``: ``n`` latents from the standard normal and their images, from a
        seed no other part of eglass uses (``seed + SAMPLES_SEED_OFFSET``): truths whose
        measurements a solution can fit exactly."""
        n = check_positive_int("n", n)
        seed = check_positive_int("seed", seed, minimum=0) + SAMPLES_SEED_OFFSET
        if self._sampler is None:  # one generator for every call, loaded on the first
            self._sampler = self.generator()
        G = self._sampler
        z = torch.randn(n, self.latent_dim, generator=make_generator(seed))
        with torch.no_grad():
            return z, G(z)

    def __repr__(self) -> str:
        d, shape = self._shape
        size = "x".join(map(str, shape)) if shape else "?"
        return f"Prior({self.reference!r}, latent_dim={d}, images {size})"


def _read_shape(name: str, G: nn.Module) -> tuple[int, tuple[int, int, int]]:
    """``(latent_dim, (C, H, W))`` of a generator, from one pass at ``z = 0``."""
    d = check_positive_int(f"latent_dim of the {name} generator", getattr(G, "latent_dim", None))
    param = next(iter(G.parameters()), None)
    like = {} if param is None else dict(dtype=param.dtype, device=param.device)
    with torch.no_grad():
        return d, tuple(G(torch.zeros(1, d, **like)).shape[1:])


@dataclass(frozen=True)
class Scheme:
    """A reference form ``"SCHEME:PATH[?options]"``: ``resolve(path, options, sha256)``
    returns the :class:`Prior`; ``options`` are the keys it accepts with their meaning."""

    name: str
    resolve: Callable[..., Prior]
    form: str
    options: dict = field(default_factory=dict)
    description: str = ""


def register_prior(prior: Prior, *, default: bool = False, replace: bool = False) -> Prior:
    """Register ``prior`` under ``prior.name``; ``default=True`` makes it what
    :func:`default_prior` returns (the first registered default wins). Registering a name
    twice is an error unless ``replace``."""
    if not isinstance(prior, Prior):
        raise TypeError(f"register_prior expects a Prior, got {type(prior).__name__}")
    if prior.name in _PRIORS and not replace:
        raise ValueError(f"a prior named {prior.name!r} is already registered")
    if ":" in prior.name:
        raise ValueError(f"a prior name cannot contain ':' (that marks a reference), "
                         f"got {prior.name!r}")
    _PRIORS[prior.name] = prior
    if default and not _DEFAULT:
        _DEFAULT.append(prior.name)
    return prior


def register_scheme(scheme: Scheme, *, replace: bool = False) -> Scheme:
    """Register a reference form ``"SCHEME:PATH[?options]"`` (see :class:`Scheme`)."""
    if scheme.name in _SCHEMES and not replace:
        raise ValueError(f"a scheme named {scheme.name!r} is already registered")
    _SCHEMES[scheme.name] = scheme
    return scheme


def _load_plugins() -> None:
    for module in BUILTIN_PLUGINS:
        importlib.import_module(module)


def list_priors() -> list[str]:
    """The registered prior names, then each reference form.

    >>> list_priors()[:2]
    ['faces-dcgan64', 'mnist-dcgan']
    """
    _load_plugins()
    return sorted(_PRIORS) + [s.form for s in _SCHEMES.values()]


def list_schemes() -> list[Scheme]:
    """The registered reference forms."""
    _load_plugins()
    return list(_SCHEMES.values())


def default_prior() -> Prior:
    """The prior eglass uses when none is named (the embedded digit prior)."""
    _load_plugins()
    if not _DEFAULT:
        raise LookupError("no default prior is registered")
    return _PRIORS[_DEFAULT[0]]


def _split_reference(reference: str) -> tuple[str | None, str, dict]:
    """``"scheme:path?k=v"`` -> ``("scheme", "path", {"k": "v"})``; a bare path -> scheme
    ``None``. A one-letter scheme is a Windows drive, not a scheme."""
    head, sep, rest = reference.partition(":")
    if not sep or len(head) < 2 or head not in _SCHEMES:
        scheme, target = None, reference
    else:
        scheme, target = head, rest
    target, _, query = target.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    return scheme, target, options


def get_prior(reference: str | Prior | None = None, *, sha256: str | None = None,
              **options) -> Prior:
    """The :class:`Prior` of a registered name or a reference to weights on disk.

    Args:
        reference: a name from :func:`list_priors` (``None``: :func:`default_prior`), or
            ``"SCHEME:PATH"`` with options as a query (``"biggan:FOLDER?class=207&
            truncation=0.4"``) or as keywords, or the path of a
            :func:`eglass.checkpoints.save_checkpoint` file.
        sha256: the SHA-256 the weights file must have (optional for a reference: its
            digest is recorded in ``Prior.sha256`` either way; required for nothing).

    The same reference with the same options resolves to the same object.
    """
    _load_plugins()
    if isinstance(reference, Prior):
        return reference
    if reference is None:
        return default_prior()
    if not isinstance(reference, str | Path):
        raise TypeError(f"a prior is named by a str (one of {list_priors()}), got "
                        f"{type(reference).__name__}")
    reference = str(reference)
    if reference in _PRIORS:
        if options or sha256 is not None:
            raise ValueError(f"prior {reference!r} takes no options; got "
                             f"{sorted({**options, **({'sha256': 1} if sha256 else {})})}")
        return _PRIORS[reference]
    scheme, target, query = _split_reference(reference)
    options = {**query, **options}
    path = Path(target).expanduser().resolve()
    stat = path.stat() if path.is_file() else None  # a file replaced on disk is new
    key = (scheme, str(path), None if stat is None else (stat.st_size, stat.st_mtime_ns),
           sha256, tuple(sorted((k, str(v)) for k, v in options.items())))
    if key not in _RESOLVED:
        if scheme is None and not Path(target).expanduser().exists():
            raise ValueError(
                f"unknown prior {reference!r}: expected one of {sorted(_PRIORS)}, a reference "
                f"{', '.join(s.form for s in _SCHEMES.values())}, or the path of a weights "
                "file written by eglass.checkpoints.save_checkpoint")
        resolver = _SCHEMES["checkpoint" if scheme is None else scheme]
        unknown = sorted(set(options) - set(resolver.options))
        if unknown:
            raise ValueError(f"{resolver.form} takes the options {sorted(resolver.options)}; "
                             f"got unknown {unknown}")
        prior = resolver.resolve(target, options, sha256)
        prior.reference = reference if not options or query else _with_query(reference, options)
        _RESOLVED[key] = prior
    return _RESOLVED[key]


def _with_query(reference: str, options: dict) -> str:
    return reference + "?" + "&".join(f"{k}={v}" for k, v in sorted(options.items()))


def prior_of(G: nn.Module) -> Prior | None:
    """The :class:`Prior` generator ``G`` was loaded through (:meth:`Prior.generator`; a
    copy of it, such as IAGAN's fine-tuned generator, counts), or ``None``."""
    reference = getattr(G, _TAG, None)
    if reference is None:
        return None
    _load_plugins()
    if reference in _PRIORS:
        return _PRIORS[reference]
    return next((p for p in _RESOLVED.values() if p.reference == reference), None)

"""Priors from weights on disk: the reference forms of :func:`eglass.priors.get_prior`.

- ``"pggan:PATH[?which=avgG]"``: a pytorch_GAN_zoo PGAN checkpoint
  (:func:`eglass.pggan.load_pggan`);
- ``"biggan:FOLDER[?class=207&truncation=0.4]"``: BigGAN-deep from a local folder
  (:func:`eglass.biggan.load_biggan`);
- a bare path: a file written by :func:`eglass.checkpoints.save_checkpoint`.

Each records the SHA-256 of its weights file (checked against ``sha256=`` when given). Their
default distance is the pixel distance (:class:`eglass.distances.PixelDistance`): no
calibrated perceptual network for natural images can be had offline, and random backbone
weights are never presented as perceptual. Pass ``distance=`` to the problem for another.
"""

from __future__ import annotations

from pathlib import Path

from ..biggan import WEIGHTS_NAME, load_biggan
from ..checkpoints import check_sha256, load_checkpoint, sha256_of
from ..distances import PixelDistance
from ..pggan import load_pggan
from ..utils import check_number, check_one_of
from . import Prior, Scheme, register_scheme

__all__ = ["resolve_pggan", "resolve_biggan", "resolve_checkpoint"]

_PIXELS = "the pixel distance (no calibrated perceptual network offline)"


def _digest(path: Path, sha256: str | None) -> str:
    """The file's SHA-256, after checking it against ``sha256`` when given."""
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    check_sha256(path, sha256)
    return sha256_of(path)


def _integer(name: str, text) -> int:
    try:
        return int(str(text))
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None


def _number(name: str, text) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    return check_number(name, value)


def resolve_pggan(path: str, options: dict, sha256: str | None) -> Prior:
    """The :class:`~eglass.priors.Prior` of a pytorch_GAN_zoo checkpoint."""
    path = Path(path).expanduser()
    which = check_one_of("which", options.get("which", "avgG"), ("avgG", "netG"))
    digest = _digest(path, sha256)
    return Prior("pggan", lambda: load_pggan(path, which=which, sha256=digest),
                 PixelDistance, sha256=digest, description=f"PGGAN {path.name} ({which})",
                 citation="Karras et al. 2018, weights of the file's owner")


def resolve_biggan(folder: str, options: dict, sha256: str | None) -> Prior:
    """The :class:`~eglass.priors.Prior` of a BigGAN-deep folder, one class."""
    folder = Path(folder).expanduser()
    class_id = _integer("class", options.get("class", 0))
    truncation = _number("truncation", options.get("truncation", 0.4))
    digest = _digest(folder / WEIGHTS_NAME, sha256) if (folder / WEIGHTS_NAME).is_file() else None

    def load():
        return load_biggan(folder, class_id, truncation=truncation, sha256=digest)

    return Prior("biggan", load, PixelDistance, sha256=digest,
                 description=f"BigGAN-deep {folder.name}, class {class_id}, "
                 f"truncation {truncation}", citation="Brock et al. 2019")


def resolve_checkpoint(path: str, options: dict, sha256: str | None) -> Prior:
    """The :class:`~eglass.priors.Prior` of a :func:`~eglass.checkpoints.save_checkpoint`
    file."""
    path = Path(path).expanduser()
    digest = _digest(path, sha256)
    return Prior("checkpoint", lambda: load_checkpoint(path, digest), PixelDistance,
                 sha256=digest, description=f"eglass checkpoint {path.name}")


register_scheme(Scheme("pggan", resolve_pggan, "pggan:PATH", {"which": "avgG or netG"},
                       f"a pytorch_GAN_zoo PGAN checkpoint; distance: {_PIXELS}"))
register_scheme(Scheme("biggan", resolve_biggan, "biggan:FOLDER",
                       {"class": "ImageNet class index (default 0)",
                        "truncation": "truncation of the noise (default 0.4)"},
                       f"BigGAN-deep config.json + pytorch_model.bin; distance: {_PIXELS}"))
register_scheme(Scheme("checkpoint", resolve_checkpoint, "PATH", {},
                       f"a file written by eglass.checkpoints.save_checkpoint; distance: "
                       f"{_PIXELS}"))

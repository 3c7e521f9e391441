"""eglass: explore the many solutions of a linear inverse problem under a GAN prior.

Implements e-GLASS (Montanaro, Valsesia, Magli, ICIP 2022): from one GAN-inversion solution
``G(z0)``, two latent metric Hessians -- ``H_Y`` (measurements) and ``H_X`` (perceptual) --
give latent directions that change the image a lot and the measurements hardly at all.

Submodules are imported on first use so that ``import eglass`` stays cheap: every module and
subpackage is an attribute (``eglass.geometry``, ``eglass.deepinv_ops``, ...) or an import::

    from eglass import operators, models, inversion, geometry, explore
    from eglass.problem import InverseProblem
"""

from __future__ import annotations

import importlib

from .version import __version__

_SUBMODULES = (
    "baselines",
    "batch",
    "biggan",
    "checkpoints",
    "cli",
    "comparison",
    "data",
    "dcgan",
    "deepinv_ops",
    "directions",
    "display",
    "distances",
    "efficientnet",
    "evaluate",
    "explore",
    "figures",
    "geometry",
    "inversion",
    "memory",
    "methods",
    "models",
    "networks",
    "operators",
    "perceptual",
    "pggan",
    "priors",
    "problem",
    "reach",
    "reconstructor",
    "results",
    "settings",
    "stylegan",
    "tables",
    "training",
    "utils",
    "version",
    "walk",
    "wheels",
    "widgets",
)

__all__ = [*_SUBMODULES, "__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"eglass.{name}")
    raise AttributeError(f"module 'eglass' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

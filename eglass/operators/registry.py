r"""Operators by name: the one registry that the command line, the batch configuration, the
book's benchmark problems and the operator tests share.

Each entry of :data:`OPERATORS` is an :class:`OperatorSpec`: a factory
``factory(image_shape, *, option=default, ...)`` that builds the operator for images
``(C, H, W)``, whose keyword-only parameters are the operator's options and their defaults.
:func:`make_operator` looks a name up, refuses unknown names and options (listing the known
ones) and checks the options against the image size when the operator is built.

>>> make_operator("sr", (1, 32, 32), factor=4)
SuperResolution(factor=4, kernel='box')
>>> list_operators()
('sr', 'inpainting', 'blur', 'cs', 'denoising')
>>> operator_options("blur")
{'size': 7, 'sigma': 2.0}
>>> make_operator("sr", (1, 32, 32), factor=3)
Traceback (most recent call last):
...
ValueError: factor must divide the image height and width, got factor=3 for images (1,32,32)
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..utils import check_number, check_one_of, check_positive_int, format_shape
from .base import LinearOperator
from .blur import Blur, gaussian_kernel
from .compressed_sensing import CompressedSensing
from .denoising import Denoising
from .inpainting import Inpainting, box_mask
from .super_resolution import SuperResolution

__all__ = [
    "OPERATORS",
    "OperatorSpec",
    "benchmark_problems",
    "describe_operators",
    "list_operators",
    "make_operator",
    "operator_options",
    "register_operator",
]


@dataclass(frozen=True)
class OperatorSpec:
    """One registered operator.

    Attributes:
        name: the name it is registered under (``"sr"``, ...).
        factory: ``factory(image_shape, **options) -> LinearOperator`` for images
            ``(C, H, W)``; its keyword-only parameters are the options, their defaults the
            options' defaults. It checks the options (through :mod:`eglass.utils`).
        summary: one line saying what the operator does.
        help: one line per option.
    """

    name: str
    factory: Callable[..., LinearOperator]
    summary: str
    help: Mapping[str, str] = field(default_factory=dict)

    @property
    def options(self) -> dict[str, object]:
        """The options and their defaults, read off the factory's signature."""
        parameters = inspect.signature(self.factory).parameters.values()
        return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}

    def describe(self) -> str:
        """``"name: summary (option=default: help; ...)"``, one line for a help text."""
        options = "; ".join(
            f"{key}={value!r}" + (f": {self.help[key]}" if key in self.help else "")
            for key, value in self.options.items()
        )
        return f"{self.name}: {self.summary}" + (f" ({options})" if options else "")


#: The registered operators, name -> :class:`OperatorSpec` (in registration order).
OPERATORS: dict[str, OperatorSpec] = {}


def register_operator(name: str, *, summary: str, help: Mapping[str, str] | None = None):
    """Decorator registering ``factory(image_shape, *, option=default, ...)`` under ``name``.

    >>> @register_operator("identity-demo", summary="the identity")
    ... def _identity(image_shape):
    ...     return Denoising()
    >>> make_operator("identity-demo", (1, 4, 4))
    Denoising()
    >>> del OPERATORS["identity-demo"]
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an operator's name must be a non-empty string, got {name!r}")
    if name in OPERATORS:
        raise ValueError(f"an operator named {name!r} is already registered")

    def register(factory: Callable[..., LinearOperator]) -> Callable[..., LinearOperator]:
        OPERATORS[name] = OperatorSpec(name, factory, summary, dict(help or {}))
        return factory

    return register


def list_operators() -> tuple[str, ...]:
    """The registered operator names, in registration order."""
    return tuple(OPERATORS)


def operator_options(name: str) -> dict[str, object]:
    """The options of operator ``name`` and their defaults."""
    return _spec(name).options


def describe_operators() -> str:
    """One line per registered operator: what it does, its options, defaults and meaning
    (for a command line's help)."""
    return "\n".join(spec.describe() for spec in OPERATORS.values())


def make_operator(name: str, image_shape: Sequence[int], **options) -> LinearOperator:
    """The operator registered as ``name`` for images ``image_shape = (C, H, W)``, built with
    ``options`` (the others at their defaults, :func:`operator_options`).

    Raises ``ValueError`` for an unknown name or option (listing the known ones) and for an
    option the operator or the image size cannot take (e.g. a super-resolution factor that
    does not divide the image size, a negative blur width).
    """
    spec = _spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        known = ", ".join(f"{key}={value!r}" for key, value in spec.options.items())
        raise ValueError(
            f"operator {name!r} takes the options {known or 'none'}; got unknown option(s) "
            f"{', '.join(map(repr, unknown))}"
        )
    return spec.factory(_check_chw(image_shape), **options)


def benchmark_problems(image_shape: Sequence[int] = (1, 32, 32)) -> dict[str, LinearOperator]:
    """The four inverse problems the book inverts digits on, by name -> operator.

    ``"SR x4"``, ``"SR x8"`` (box down-scaling), ``"inpainting (box)"`` (a central 12x12
    box hidden, for 32x32 images scaled with the image size) and ``"CS (m=100)"``
    (100 Gaussian measurements, seed 0).

    >>> sorted(benchmark_problems())
    ['CS (m=100)', 'SR x4', 'SR x8', 'inpainting (box)']
    """
    _, h, w = _check_chw(image_shape)
    box = (round(12 * h / 32), round(12 * w / 32))
    return {
        "SR x4": make_operator("sr", image_shape, factor=4),
        "SR x8": make_operator("sr", image_shape, factor=8),
        "inpainting (box)": make_operator("inpainting", image_shape, box=box),
        "CS (m=100)": make_operator("cs", image_shape, m=100, seed=0),
    }


def _spec(name: str) -> OperatorSpec:
    return OPERATORS[check_one_of("operator", name, tuple(OPERATORS))]


def _check_chw(image_shape: Sequence[int]) -> tuple[int, int, int]:
    if isinstance(image_shape, str) or not isinstance(image_shape, Sequence) or len(
        image_shape
    ) != 3:
        raise ValueError(f"image_shape must be (C,H,W), got {image_shape!r}")
    c, h, w = (check_positive_int("image_shape entries", s) for s in image_shape)
    return c, h, w


def _pair(name: str, value) -> tuple[int, int]:
    """``value`` (an integer or a pair of them) as a pair of positive integers."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be a positive integer or a pair (h, w) of them, "
                         f"got {value!r}")
    return check_positive_int(name, value[0]), check_positive_int(name, value[1])


# --- the registered operators -----------------------------------------------------------------


@register_operator(
    "sr",
    summary="super-resolution, the average over factor x factor blocks",
    help={"factor": "down-scaling factor, dividing the image height and width"},
)
def _super_resolution(image_shape: tuple[int, int, int], *, factor: int = 8):
    factor = check_positive_int("factor", factor)
    if image_shape[1] % factor or image_shape[2] % factor:
        raise ValueError(
            f"factor must divide the image height and width, got factor={factor} for images "
            f"{format_shape(image_shape)}"
        )
    return SuperResolution(factor)


@register_operator(
    "inpainting",
    summary="inpainting, a centred box of pixels hidden",
    help={"box": "side (or (h, w)) of the hidden box in pixels"},
)
def _inpainting(image_shape: tuple[int, int, int], *, box: int | Sequence[int] = 12):
    return Inpainting(box_mask(image_shape[1:], _pair("box", box)))


@register_operator(
    "blur",
    summary="Gaussian blur, circular boundary",
    help={"size": "kernel side in pixels", "sigma": "Gaussian width in pixels"},
)
def _blur(image_shape: tuple[int, int, int], *, size: int = 7, sigma: float = 2.0):
    size = check_positive_int("size", size)
    if size > min(image_shape[1:]):
        raise ValueError(
            f"size must be at most the image height and width, got size={size} for images "
            f"{format_shape(image_shape)}"
        )
    return Blur(gaussian_kernel(size, check_number("sigma", sigma, positive=True)))


@register_operator(
    "cs",
    summary="compressed sensing, m random Gaussian measurements",
    help={"m": "number of measurements, at most C*H*W", "seed": "seed of the matrix"},
)
def _compressed_sensing(image_shape: tuple[int, int, int], *, m: int = 100, seed: int = 0):
    m = check_positive_int("m", m)
    return CompressedSensing(m, image_shape, seed=check_positive_int("seed", seed, minimum=0))


@register_operator("denoising", summary="denoising, the identity")
def _denoising(image_shape: tuple[int, int, int]):
    return Denoising()

"""Linear forward models (moving into this package; see base)."""

from .base import *  # noqa: F403
from .base import __all__  # noqa: F401

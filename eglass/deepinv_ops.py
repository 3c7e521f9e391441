"""DeepInverse forward models as eglass operators: this module's names now live in
:mod:`eglass.operators.deepinv` (also exported by :mod:`eglass.operators`); it re-exports
them so that ``eglass.deepinv_ops.X`` keeps working.

>>> from eglass.deepinv_ops import from_deepinv
>>> from eglass.operators import from_deepinv as same
>>> from_deepinv is same
True
"""

from __future__ import annotations

from .operators.deepinv import DeepInvOperator, as_operator, from_deepinv, is_deepinv_physics

__all__ = ["DeepInvOperator", "from_deepinv", "as_operator", "is_deepinv_physics"]

"""The embedded data set, where DESIGN.md places it: the digit prior's plugin
(:mod:`eglass.priors.digits.data`) holds it; this module re-exports its names."""

from __future__ import annotations

from .priors.digits.data import IMAGE_SIZE, SPLITS, TEST_PER_CLASS, mnist

__all__ = ["mnist", "SPLITS", "TEST_PER_CLASS", "IMAGE_SIZE"]

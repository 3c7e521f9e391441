r"""One resolution of a method's settings, and where each value came from.

Every entry point that runs a method of :mod:`eglass.methods` -- :func:`eglass.explore.explore`,
:class:`eglass.explore.StartingPoint`, :func:`eglass.methods.run`, the explorer widget, the
reconstructor, the comparison and the batch item -- asks :func:`resolve` for its settings, so
that none keeps a default of its own. Each setting comes from, in increasing priority:

1. ``"method"``: the default of the method's settings dataclass
   (e.g. :class:`eglass.methods.LineSettings`);
2. ``"prior NAME"``: the prior's ``defaults`` (:class:`eglass.priors.Prior`) that the method
   takes (the prior :func:`eglass.priors.prior_of` finds for the problem's generator; a
   fine-tuned copy counts; a generator of unknown origin has none);
3. ``"problem"``: what the problem implies (:data:`DERIVED`: today the feasibility level
   ``tau``, :attr:`eglass.problem.InverseProblem.tau`, from the noise where it is known);
4. ``"user"``: what the caller passed (an option given as ``None`` counts as not given).

:func:`record` writes the values and their sources on the :class:`eglass.results.Solutions`
(``params["sources"]``, ``params["resolved"]``); its summary shows the ones that are not the
method's.

>>> import torch
>>> from eglass.methods import get_method
>>> from eglass.models import load_generator
>>> from eglass.operators import SuperResolution
>>> from eglass.problem import InverseProblem
>>> G = load_generator("mnist-dcgan")
>>> problem = InverseProblem(G, SuperResolution(4), SuperResolution(4)(G(torch.zeros(1, 64))))
>>> found = resolve(get_method("eglass"), problem, etas=(-1.0, 1.0))
>>> found.settings.top, found.sources["top"], found.sources["etas"], found.sources["tau"]
(8, 'prior mnist-dcgan', 'user', 'problem')
>>> found.sources["Ks"]
'method'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, replace

from .priors import prior_of
from .results import Solutions, sources_text

__all__ = ["METHOD", "PROBLEM", "USER", "DERIVED", "Resolved", "resolve", "record"]

METHOD, PROBLEM, USER = "method", "problem", "user"

#: Settings a problem implies: setting name -> ``problem -> value`` (``None``: it implies
#: nothing). Applied to the methods whose settings have that field, over the prior's
#: defaults and under the user's options. Add a rule here, nowhere else.
DERIVED: dict[str, Callable] = {
    "tau": lambda problem: problem.tau,
}


@dataclass(frozen=True)
class Resolved:
    """A method's settings and where each came from.

    Attributes:
        settings: the method's settings dataclass, validated.
        sources: setting name -> ``"method"``, ``"prior NAME"``, ``"problem"`` or
            ``"user"``, for every field of the settings.
    """

    settings: object
    sources: dict[str, str]

    def values(self) -> dict:
        """Setting name -> value, every field."""
        return {f.name: getattr(self.settings, f.name)
                for f in dataclasses.fields(self.settings)}

    def __str__(self) -> str:
        return sources_text(dict(resolved=self.values(), sources=self.sources))


def _fields(method) -> set[str]:
    return {f.name for f in dataclasses.fields(method.settings)}


def resolve(method, problem=None, /, **options) -> Resolved:
    """The settings of ``method`` (a registered :class:`eglass.methods.Method`) for
    ``problem`` (an :class:`eglass.problem.InverseProblem`, or a starting point with a
    ``problem``; ``None``: no prior, nothing implied) and the user's ``options``: the
    method's defaults, then the prior's, then what the problem implies, then ``options``.

    An option the method does not take is a ``TypeError`` naming the ones it takes; an
    option given as ``None`` is resolved like one not given."""
    known = _fields(method)
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"method {method.name!r} takes the settings {sorted(known)}; got "
                        f"unknown {unknown}")
    problem = getattr(problem, "problem", problem)  # a starting point: its problem
    values: dict = {}
    sources = dict.fromkeys(sorted(known), METHOD)
    prior = None if problem is None else prior_of(problem.generator)
    if prior is not None:
        for name, value in prior.defaults.items():
            if name in known:
                values[name], sources[name] = value, f"prior {prior.name}"
    if problem is not None:
        for name, rule in DERIVED.items():
            value = rule(problem) if name in known else None
            if value is not None:
                values[name], sources[name] = value, PROBLEM
    for name, value in options.items():
        if value is not None:
            values[name], sources[name] = value, USER
    return Resolved(method.settings(**values), sources)


def record(solutions: Solutions, resolved: Resolved) -> Solutions:
    """``solutions`` with ``params["resolved"]`` (every setting's value) and
    ``params["sources"]`` (where each came from) added; their other params kept."""
    return replace(solutions, params={**solutions.params, "resolved": resolved.values(),
                                      "sources": dict(resolved.sources)})


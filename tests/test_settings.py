"""One resolution of the settings (eglass.settings): the method's defaults, then the prior's,
then what the problem implies, then the user's, recorded on the results with the source of
each; and every entry point -- explore, StartingPoint, methods.run, the explorer widget, the
reconstructor, the batch item -- uses it (the face prior's ``top`` and ``etas`` reach them)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from test_explore import random_metric, tiny_setup

from eglass import batch, methods, settings
from eglass.distances import PixelDistance
from eglass.explore import StartingPoint, explore
from eglass.operators import SuperResolution
from eglass.priors import faces, get_prior, prior_of
from eglass.problem import InverseProblem
from eglass.widgets import Explorer

FACES = "prior faces-dcgan64"


@pytest.fixture(scope="module")
def face_point():
    """A face point built by hand (no inversion, random metrics, pixel distance): cheap."""
    G = get_prior("faces-dcgan64").generator()
    A = SuperResolution(8)
    z0 = torch.randn(1, 100, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = A(G(z0))
    problem = InverseProblem(G, A, y, distance=PixelDistance())
    H_Y = random_metric(100, 40, 1).float()
    H_X = random_metric(100, 90, 2).float()
    return StartingPoint(problem=problem, z0=z0, x0=None, H_Y=H_Y, H_X=H_X)


@pytest.fixture
def tiny_point(tiny_generator):
    G, A, y, z0, H_Y, H_X = tiny_setup(tiny_generator)
    problem = InverseProblem(G, A, y, distance=PixelDistance())
    return StartingPoint(problem=problem, z0=z0, x0=None, H_Y=H_Y, H_X=H_X)


def test_order_method_prior_problem_user(face_point):
    problem = face_point.problem
    found = settings.resolve(methods.get_method("eglass"), problem)
    assert found.settings.top == faces.DEFAULTS["top"] == 24
    assert found.settings.etas == faces.DEFAULTS["etas"]
    assert found.settings.Ks == methods.LineSettings.Ks
    assert found.settings.tau == problem.tau
    assert found.sources["top"] == found.sources["etas"] == FACES
    assert found.sources["Ks"] == found.sources["threshold"] == "method"
    assert found.sources["tau"] == "problem"
    user = settings.resolve(methods.get_method("eglass"), problem, top=3, tau=0.5, Ks=(2,),
                            etas=None)  # None: not given
    assert (user.settings.top, user.settings.tau, user.settings.Ks) == (3, 0.5, (2,))
    assert user.sources["top"] == user.sources["tau"] == user.sources["Ks"] == "user"
    assert user.sources["etas"] == FACES
    assert "top=24 (prior faces-dcgan64)" in str(found)


def test_the_problem_wins_over_the_prior(face_point, monkeypatch):
    prior = prior_of(face_point.problem.generator)
    monkeypatch.setitem(prior.defaults, "tau", 0.3)
    found = settings.resolve(methods.get_method("eglass"), face_point.problem)
    assert found.settings.tau == face_point.problem.tau and found.sources["tau"] == "problem"


def test_a_method_takes_only_its_own_prior_defaults(face_point):
    found = settings.resolve(methods.get_method("pulse"), face_point)  # a point: its problem
    assert "top" not in found.sources and found.sources["n"] == "method"
    with pytest.raises(TypeError, match=r"method 'pulse' takes the settings .*unknown \['top'\]"):
        settings.resolve(methods.get_method("pulse"), face_point.problem, top=3)


def test_a_fine_tuned_copy_keeps_its_prior(face_point):
    G = copy.deepcopy(face_point.problem.generator)
    problem = face_point.problem.with_generator(G)
    assert prior_of(G) is prior_of(face_point.problem.generator)
    assert settings.resolve(methods.get_method("eglass"), problem).sources["top"] == FACES


def test_unknown_generator_gets_the_method_defaults(tiny_point):
    assert prior_of(tiny_point.problem.generator) is None
    found = settings.resolve(methods.get_method("eglass"), tiny_point.problem)
    assert found.sources["top"] == found.sources["etas"] == found.sources["Ks"] == "method"
    s = tiny_point.explore(Ks=(2,), top=2)  # d = 8: the default K = 8 with top 8 is empty
    assert s.params["sources"]["etas"] == s.params["sources"]["threshold"] == "method"
    assert s.params["resolved"]["etas"] == methods.LineSettings.etas
    assert s.params["sources"]["tau"] == "problem" and s.params["sources"]["top"] == "user"
    assert len(s) == len(methods.LineSettings.etas)


def _faces_took_effect(s):
    assert s.params["sources"]["top"] == s.params["sources"]["etas"] == FACES
    assert s.params["top"] == 24 and tuple(s.params["etas"]) == faces.DEFAULTS["etas"]
    assert sorted(set(s.eta.tolist())) == sorted(faces.DEFAULTS["etas"])


def test_faces_defaults_reach_every_explore_entry(face_point):
    p = face_point
    for s in (explore(p.problem, p.z0, p.H_Y, p.H_X), p.explore(), p.run("eglass"),
              methods.run("eglass", p)):
        _faces_took_effect(s)
        assert "top=24 (prior faces-dcgan64)" in repr(s) and "settings from" in repr(s)
    assert p.run("eglass", etas=(-1.0, 1.0)).params["sources"]["etas"] == "user"
    d = p.direction(4)
    assert torch.equal(d.d, methods.get_method("eglass").directions(
        p.H_Y, p.H_X, [4], methods.LineSettings(top=24))[0].d)
    assert p.reach(Ks=(4,)).eta.shape == (1, 2)


def test_faces_defaults_reach_the_explorer(face_point):
    p = face_point
    ex = Explorer(p.problem, p.z0, p.H_Y, p.H_X)
    assert ex.settings["top"] == 24 and ex.resolved.sources["top"] == FACES
    assert ex.walk.top == 24 and ex.tau == p.problem.tau
    assert Explorer(p.problem, p.z0, p.H_Y, p.H_X, top=5).settings["top"] == 5


def test_faces_defaults_reach_the_reconstructor(face_point, monkeypatch):
    from eglass import reconstructor

    p = face_point
    monkeypatch.setattr(reconstructor, "starting_points", lambda problem, **_: [p])
    model = reconstructor.EglassReconstructor("faces-dcgan64", distance=PixelDistance(),
                                              data_range="signed")
    samples = model.sample(p.problem.y, p.problem.operator)
    _faces_took_effect(samples.solutions[0])
    # n with no Ks: the directions n needs with the prior's six steps
    assert len(model.sample(p.problem.y, p.problem.operator, n=7).solutions[0]) == 7
    assert samples.solutions[0].params["Ks"] == list(methods.LineSettings.Ks)


@pytest.mark.parametrize("method", methods.method_names())
def test_every_method_records_its_sources(method, tiny_point):
    """The contract: every registered method, through methods.run, StartingPoint.run (and
    explore for those from z0), returns Solutions recording each setting and its source."""
    small = {"pulse": dict(n=2, steps=3), "langevin": dict(n=2, burn_in=2, thin=1),
             }.get(method, dict(Ks=(2,), etas=(-0.5, 0.5), top=2))
    chosen = methods.get_method(method)
    runs = [methods.run(method, tiny_point, **small), tiny_point.run(method, **small)]
    if chosen.needs_metrics:
        runs.append(explore(tiny_point.problem, tiny_point.z0, tiny_point.H_Y, tiny_point.H_X,
                            method=method, **small))
    fields = {f for f in chosen.settings.__dataclass_fields__}
    for s in runs:
        assert set(s.params["sources"]) == fields == set(s.params["resolved"])
        assert all(s.params["sources"][k] == "user" for k in small)
        assert set(s.params["sources"].values()) <= {"method", "problem", "user"}
        assert s.params["sources"]["tau"] == "problem"


def _cheap_points():
    def starting_points(problem, **_):
        z0 = torch.randn(1, problem.latent_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            x0 = problem.generate(z0)
        return [StartingPoint(problem=problem, z0=z0, x0=x0,
                              H_Y=random_metric(problem.latent_dim, 40, 1).float(),
                              H_X=random_metric(problem.latent_dim, 90, 2).float())]
    return starting_points


def test_faces_defaults_reach_a_batch_item_and_the_config_wins(monkeypatch):
    """A faces item (the inversion and the metrics replaced by a point made by hand): the
    prior's six etas where the config sets none, the config's where it does."""
    from eglass.batch import item

    monkeypatch.setattr(item, "starting_points", _cheap_points())
    config = batch.BatchConfig(prior="faces-dcgan64", count=1, Ks=(4,), inversion="fast",
                               data="samples")
    assert config.etas is None
    z, x = get_prior("faces-dcgan64").samples(1)
    y = SuperResolution(config.factor)(x)[0].numpy()
    out = batch.run_item(config, 0, y)
    assert len(out["x"]) == len(faces.DEFAULTS["etas"])
    out = batch.run_item(config.replace(etas=(-1.0, 1.0)), 0, y)
    assert len(out["x"]) == 2
    assert batch.config.method_settings(config, "eglass", 0) == {"Ks": (4,)}
    assert np.isfinite(out["errors"]).all()

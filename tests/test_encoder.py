"""The fast start: the shipped latent encoder, its training recipe, and fast_start."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
import torch
from references import assert_retrained_like_shipped

from eglass import models, training
from eglass.comparison import run_eglass
from eglass.data import mnist
from eglass.distances import default_distance
from eglass.evaluate import TAU_STRICT
from eglass.explore import faithfulness, starting_points
from eglass.inversion import benchmark_problems, fast_start, first_guess, invert
from eglass.operators import SuperResolution
from eglass.problem import InverseProblem
from eglass.utils import stopwatch


def _train_prior_script():
    path = models.WEIGHTS_DIR.parents[1] / "scripts" / "train_prior.py"
    spec = importlib.util.spec_from_file_location("train_prior", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def G():
    return models.load_generator("mnist-dcgan")


@pytest.fixture(scope="module")
def heldout():
    """The ten held-out digits of tests/test_inversion.py (one per class)."""
    digits, _ = mnist("test")
    return digits[torch.arange(10) * 50]


# ----------------------------------------------------------------------------- weights
def test_shipped_encoder_is_registered_and_hash_checked(tmp_path):
    entry = models.registry()["mnist-encoder"]
    assert entry["kind"] == "encoder" and entry["generator"] == "mnist-dcgan"
    assert models.sha256_of(models.WEIGHTS_DIR / entry["file"]) == entry["sha256"]
    E = models.load_encoder()
    assert isinstance(E, models.LatentEncoder) and not E.training
    assert all(not p.requires_grad for p in E.parameters())
    # one flipped byte in a copy of the weights: the recorded SHA-256 refuses it
    shutil.copy(models.WEIGHTS_DIR / models.REGISTRY_FILE, tmp_path / models.REGISTRY_FILE)
    data = bytearray((models.WEIGHTS_DIR / entry["file"]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        models.load_encoder(root=tmp_path)
    with pytest.raises(KeyError, match="unknown encoder 'mnist-dcgan'"):
        models.load_encoder("mnist-dcgan")


@pytest.mark.slow
@pytest.mark.stored_reference
def test_training_script_reproduces_the_shipped_encoder(G):
    """The recipe of scripts/train_prior.py (one thread, seed 0) gives the shipped encoder:
    bit for bit on the machine that trained it, and elsewhere within the bounds of
    tests/references.py on its weights and on how well its guess fits held-out digits."""
    script = _train_prior_script()
    cfg = script.DEFAULTS["encoder"]
    assert models.registry()["mnist-encoder"]["operators"] == cfg["operators"]
    problems = benchmark_problems()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        E = training.train_encoder(
            G, [problems[name] for name in cfg["operators"]], seed=0,
            **{k: cfg[k] for k in ("samples", "steps", "batch_size", "lr", "width")})
    finally:
        torch.set_num_threads(threads)
    x, _ = mnist("test")
    problems = {name: problems[name] for name in cfg["operators"]}
    assert_retrained_like_shipped(
        training.compare_encoders(E, models.load_encoder(), G, problems, x[::5]))


def test_train_encoder_is_seeded_and_checks_its_input():
    G = models.Generator(latent_dim=8, width=8).eval()
    ops = [SuperResolution(4)]
    small = dict(samples=64, steps=4, batch_size=16, width=4)
    a, b = (training.train_encoder(G, ops, seed=3, **small) for _ in range(2))
    c = training.train_encoder(G, ops, seed=4, **small)
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    assert not torch.equal(a.state_dict()["body.0.weight"], c.state_dict()["body.0.weight"])
    with pytest.raises(ValueError, match="at least one operator"):
        training.train_encoder(G, [], **small)
    with pytest.raises(TypeError, match="every operator needs A_dagger"):
        training.train_encoder(G, [lambda x: x], **small)
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        training.train_encoder(G, ops, **{**small, "steps": 0})


# ----------------------------------------------------------------------------- fast start
@pytest.mark.slow
def test_fast_start_reaches_the_full_inversions_feasibility_on_heldout_digits(G, heldout):
    """Same digits, problems and threshold as the held-out test of test_inversion.py, which
    asserts that the full IAGAN inversion brings every digit below the strict threshold: so
    does the fast start, each measurement stopping at tol = 3e-4 or going on to fine-tuning."""
    for name, A in benchmark_problems().items():
        problem = InverseProblem(G, A, A(heldout))
        fast = fast_start(problem)
        assert (fast.errors < TAU_STRICT).all(), (name, fast.errors)


def test_fast_start_falls_back_to_the_full_inversion_where_it_falls_short(G, heldout):
    """Budgets far too small to fit: without the fallback the two digits stay above the
    strict level; with it they get the full inversion's solutions, row for row."""
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(heldout[[2, 4]]))
    tiny = dict(encoder=False, steps=1, finetune_steps=1)  # one Gaussian start, two steps
    short = fast_start(problem, fallback=False, **tiny)
    assert (short.errors > TAU_STRICT).all()
    fast = fast_start(problem, **tiny)
    full = invert(problem, "iagan", progress=False, back_project=False)
    torch.testing.assert_close(fast.z, full.z)
    torch.testing.assert_close(fast.errors, full.errors)
    assert (fast.errors < TAU_STRICT).all() and fast.method == "iagan"
    assert fast.history.shape[1] == 2 and len(fast.history) == len(full.history)
    assert fast.generators[1] is not G and fast.problem(1).error(fast.x[1:]).item() < TAU_STRICT


def test_first_guess_nearly_fits_generator_samples(G):
    """Trained on generator samples, the encoder's guess alone fits SR x8 measurements of new
    ones far better than the prior's typical latent, and one start is refined to the tol."""
    z = torch.randn(20, 64, generator=torch.Generator().manual_seed(7))
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(G(z)))
    guess = problem.error(G(first_guess(problem)))
    prior = problem.error(G(torch.zeros(1, 64)).expand(20, -1, -1, -1))
    assert guess.median() < prior.median() / 5
    result = fast_start(problem, finetune_steps=1)
    assert (result.errors <= 3e-4).all() and result.restart_z.shape == (1, 20, 64)


def test_fast_start_and_init_reject_bad_input(G):
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(G(torch.zeros(2, 64))))
    with pytest.raises(ValueError, match=r"init must be starting latents \(2,64\) or "
                                         r"\(R,2,64\).*got \(2,32\)"):
        invert(problem, "latent", init=torch.zeros(2, 32), progress=False)
    bad = torch.zeros(2, 64)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="init contains 1 NaN"):
        invert(problem, "latent", init=bad, progress=False)
    with pytest.raises(ValueError, match=r"gives 8-d latents; .*takes latent_dim=64"):
        first_guess(problem, models.LatentEncoder(latent_dim=8, width=4))
    no_dagger = InverseProblem(G, lambda x: x[..., ::8, ::8], A(G(torch.zeros(1, 64))))
    with pytest.raises(TypeError, match="has no A_dagger"):
        fast_start(no_dagger)


class Linear(torch.nn.Module):
    """A generator of (N, channels, 32, 32) images from d-dimensional latents."""

    def __init__(self, latent_dim, channels):
        super().__init__()
        self.latent_dim, self.channels = latent_dim, channels
        self.net = torch.nn.Linear(latent_dim, channels * 32 * 32)

    def forward(self, z):
        return torch.tanh(self.net(z)).view(-1, self.channels, 32, 32)


@pytest.mark.parametrize("encoder", ["mnist-encoder", "module"])
def test_an_encoder_that_does_not_fit_the_generator_is_refused_before_any_work(encoder):
    """The digit encoder reads (N,1,32,32) images and gives 64-d latents: a 3-channel or an
    8-dimensional generator is refused by resolve_encoder, naming both sides, before the
    encoder or the generator runs."""
    from eglass.inversion.fast import resolve_encoder

    E = models.load_encoder() if encoder == "module" else encoder
    A, calls = SuperResolution(4), []
    for G, theirs in ((Linear(64, 3), r"makes images \(N,3,32,32\) and takes latent_dim=64"),
                      (Linear(8, 1), r"makes images \(N,1,32,32\) and takes latent_dim=8")):
        problem = InverseProblem(G, A, A(G(torch.zeros(1, G.latent_dim))))
        G.register_forward_hook(lambda *_: calls.append(1))
        match = (r"the encoder LatentEncoder does not fit this generator: it reads images "
                 r"\(N,1,32,32\) and gives 64-d latents; the generator " + theirs)
        for call in (resolve_encoder, first_guess, fast_start):
            with pytest.raises(ValueError, match=match):
                call(problem, encoder=E)
        assert not calls


def test_init_sets_the_starts_and_keeps_the_best(G):
    A = SuperResolution(8)
    z_true = torch.randn(1, 64, generator=torch.Generator().manual_seed(2))
    problem = InverseProblem(G, A, A(G(z_true)))
    starts = torch.stack([torch.zeros(1, 64), z_true])  # (R=2, N=1, d)
    result = invert(problem, "latent", init=starts, steps=5, tol=None, progress=False,
                    back_project=False)
    assert result.restart_z.shape == (2, 1, 64)
    assert result.restart_errors[1, 0] < result.restart_errors[0, 0]
    assert result.errors.item() == pytest.approx(result.restart_errors[1, 0].item(), rel=1e-5)


# ----------------------------------------------------------------------------- the pipeline
def test_run_eglass_records_where_its_time_goes_and_spreads_its_candidates(G, heldout):
    A = SuperResolution(8)
    with stopwatch() as elapsed:
        run = run_eglass(InverseProblem(G, A, A(heldout[:1]), default_distance()), n=10)
    parts = run.params["seconds"]
    assert set(parts) == {"first_solution", "metrics", "directions", "solutions"}
    assert all(v > 0 for v in parts.values()) and sum(parts.values()) <= elapsed()
    assert run.params["inversion"] == {"method": "fast"}
    first = run.eta[:20]  # the first round, ordered by decreasing |eta|: -6, +6 for each K
    assert first.tolist() == [-6.0, 6.0] * 10 and run.K[:20].unique().numel() == 10


def test_starting_points_fast_and_faithfulness(G, heldout):
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(heldout[3:4]), default_distance())
    (point,) = starting_points(problem, method="fast")
    assert set(point.seconds) == {"first_solution", "metrics"}
    assert point.problem.error(point.x0).item() <= 3e-4
    f = point.faithfulness(Ks=(2, 4, 8), etas=(-2.0, 2.0))
    assert f.ratio.shape == f.linear_share.shape == (6,)
    assert f.median > 1  # Algorithm 1 keeps the measurements better than v^K alone
    assert torch.all(f.linear_share > 0)
    direct = faithfulness(point.problem, point.z0, point.H_Y, point.H_X, Ks=(2, 4, 8),
                          etas=(-2.0, 2.0))
    assert torch.equal(direct.ratio, f.ratio)
    with pytest.raises(ValueError, match="K"):
        point.faithfulness(Ks=(65,))



# ----------------------------------------------------------------------------- which encoder
class Wrapped(torch.nn.Module):
    """A generator wrapped by the user: the same network, not loaded through a prior."""

    def __init__(self, G):
        super().__init__()
        self.G, self.latent_dim = G, G.latent_dim

    def forward(self, z):
        return self.G(z)


def test_the_default_encoder_is_the_one_of_the_generators_prior(G):
    """encoder=None (the default) asks eglass.priors.prior_of(G) for its encoder: for the digit
    prior the shipped one, so the numbers are those of encoder="mnist-encoder" (the default
    before the reshape); a generator loaded through no prior starts from a Gaussian draw,
    as encoder=False does."""
    from eglass.inversion.fast import resolve_encoder
    from eglass.priors import prior_of

    A = SuperResolution(8)
    z = torch.randn(2, 64, generator=torch.Generator().manual_seed(5))
    problem = InverseProblem(G, A, A(G(z)))
    shipped = prior_of(G).fast_start_encoder()
    assert resolve_encoder(problem) is shipped  # kept: not read from disk again
    assert torch.equal(first_guess(problem), first_guess(problem, "mnist-encoder"))
    kw = dict(steps=20, finetune_steps=5, fallback=False)
    default, named = fast_start(problem, **kw), fast_start(problem, encoder="mnist-encoder", **kw)
    assert torch.equal(default.x, named.x) and torch.equal(default.history, named.history)
    assert resolve_encoder(problem, "mnist-encoder") is resolve_encoder(problem, "mnist-encoder")
    bare = InverseProblem(Wrapped(G), A, problem.y)  # the same network, through no prior
    assert resolve_encoder(bare) is None
    gaussian = fast_start(problem, encoder=False, **kw)
    assert torch.equal(fast_start(bare, **kw).x, gaussian.x)
    with pytest.raises(ValueError, match="first_guess needs an encoder"):
        first_guess(bare)


def test_an_encoder_is_checked_and_never_switched(G):
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(G(torch.zeros(1, 64))))
    with pytest.raises(TypeError, match=r"encoder must be an nn.Module .* got int 42"):
        fast_start(problem, encoder=42)
    with pytest.raises(TypeError, match=r"encoder must be an nn.Module"):
        first_guess(problem, 42)
    E = models.LatentEncoder(latent_dim=64, width=4)
    E.body.insert(0, torch.nn.Dropout(0.1))  # a user's encoder left in training mode
    with pytest.raises(ValueError, match=r"the encoder has batch-norm/dropout layers in "
                                         r"training mode .*call encoder\.eval\(\) first"):
        first_guess(problem, E)
    assert E.training
    assert first_guess(problem, E.eval()).shape == (1, 64)
    assert not E.training and E.body[0].p == 0.1

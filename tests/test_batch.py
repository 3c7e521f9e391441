"""The batch path (eglass.batch, eglass.cli): a 2-worker LocalCluster over 20 held-out digits,
a killed run resumed, a killed worker survived, bad input files reported by name, a store
of another config refused, and the command's --help and --quick; any prior: a random-weight
PGGAN checkpoint in pytorch_GAN_zoo's format through `eglass run --quick` and `eglass report`,
a save_checkpoint file, samples of the prior, changed weights refused, `eglass priors`.

Budgets are tiny (one IAGAN start, 15 + 3 steps): these tests check the machinery (every
item once, bit-identical results, errors), not the quality of the solutions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

from eglass import batch, cli  # noqa: E402
from eglass.evaluate import noise_tau  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(count=20, restarts=1, steps=15, finetune_steps=3, Ks=(4, 8), etas=(-1.5, 1.5),
            methods=("eglass", "pulse"), pulse_n=2, pulse_steps=5, seed=3)
TIMING = ("seconds",)  # the only values allowed to differ between runs


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _eglass(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eglass", *args], capture_output=True,
                          text=True, env=_env(), **kwargs)


def _toml(path: Path, values: dict) -> Path:
    lines = []
    for k, v in values.items():
        lines.append(f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _root(store):
    import zarr

    return zarr.open_group(str(store), mode="r")


def _assert_same_items(store, reference, indices):
    """Every array and attribute of each item equal bit for bit (timings aside)."""
    a, b = _root(store), _root(reference)
    for i in indices:
        x, y = batch.read_item(a, i), batch.read_item(b, i)
        assert set(x) == set(y), f"item {i}: keys {sorted(set(x) ^ set(y))} differ"
        for key in x:
            if key in TIMING:
                continue
            if isinstance(x[key], np.ndarray):
                assert x[key].dtype == y[key].dtype and np.array_equal(
                    x[key], y[key], equal_nan=x[key].dtype.kind == "f"), f"item {i}: {key}"
            else:
                assert x[key] == y[key], f"item {i}: {key} {x[key]!r} != {y[key]!r}"


@pytest.fixture(scope="module")
def client():
    c, cluster = batch.make_client(2, None)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    """An uninterrupted 2-worker run over 20 held-out digits."""
    store = tmp_path_factory.mktemp("reference") / "ref.zarr"
    summary = batch.run(batch.BatchConfig(**TINY, store=str(store)), client=client,
                        progress=False)
    return store, summary


def test_twenty_digits_on_two_workers(reference):
    store, summary = reference
    assert summary.ok and summary.done == summary.total == 20 and summary.skipped == 0
    root = _root(store)
    assert sorted(batch.done_items(root)) == list(range(20))
    assert len(list(root["items"].groups())) == 20
    meta = root.attrs["metadata"]
    from eglass import models

    assert meta["generator_sha256"] == models.registry()["mnist-dcgan"]["sha256"]
    assert root.attrs["config"]["count"] == 20 and meta["seed"] == 3
    item = batch.read_item(root, 7)
    n = len(TINY["Ks"]) * len(TINY["etas"]) + TINY["pulse_n"]
    assert item["z"].shape == (n, 64) and item["x"].shape == (n, 1, 32, 32)
    assert item["y"].shape == (1, 4, 4) and item["x_true"].shape == (1, 32, 32)
    assert item["mean"].shape == item["std"].shape == (1, 32, 32)
    assert np.array_equal(item["feasible"], item["errors"] <= TINY.get("tau", 1e-2))
    assert item["seed"] == batch.item_seed(3, 7) and item["done"] is True
    # the held-out digits interleave the classes: items 0..9 are one digit of each class
    labels = [int(batch.read_item(root, i)["name"].split("-")[-1]) // 50 for i in range(10)]
    assert labels == list(range(10))


def test_rerun_skips_everything(reference, client):
    store, _ = reference
    summary = batch.run(batch.BatchConfig(**TINY, store=str(store)), client=client,
                        progress=False)
    assert summary.skipped == 20 and summary.done == 20 and summary.ok


def test_store_of_another_config_is_refused(reference):
    store, _ = reference
    with pytest.raises(batch.ConfigMismatch, match=r"factor: store 8, now 4.*seed: store 3"):
        batch.open_store(batch.BatchConfig(**{**TINY, "seed": 0}, factor=4, store=str(store)),
                         "")
    config = _toml(store.parent / "other.toml", {**TINY, "factor": 4, "store": str(store)})
    out = _eglass("run", "--config", str(config), "--no-progress", timeout=120)
    assert out.returncode == 2 and "factor: store 8, now 4" in out.stderr, out.stderr
    assert sorted(batch.done_items(_root(store))) == list(range(20))  # untouched


def test_killed_run_resumes_bit_identical(reference, tmp_path):
    """Kill the command (its whole process group: client, scheduler and workers) after a
    few entries, run it again: exactly 20 entries, equal to the uninterrupted run."""
    ref, _ = reference
    store = tmp_path / "resumed.zarr"
    config = _toml(tmp_path / "run.toml", {**TINY, "store": str(store)})
    args = [sys.executable, "-m", "eglass", "run", "--config", str(config), "--workers", "2",
            "--no-progress"]
    proc = subprocess.Popen(args, env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        done: set = set()
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists():
                done = batch.done_items(_root(store))
                if len(done) >= 3:
                    break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 3 <= len(done) < 20, f"the run was to be killed midway, had {len(done)} done"
    out = _eglass("run", "--config", str(config), "--workers", "2", "--no-progress",
                  timeout=300)
    assert out.returncode == 0, out.stderr
    assert "already there" in out.stdout
    root = _root(store)
    assert len(list(root["items"].groups())) == 20
    assert sorted(batch.done_items(root)) == list(range(20))
    _assert_same_items(store, ref, range(20))


def test_killed_worker_is_survived(reference, client, tmp_path):
    """SIGKILL one worker process of the cluster while items run: Dask reruns its tasks."""
    ref, _ = reference
    store = tmp_path / "killed.zarr"
    config = batch.BatchConfig(**{**TINY, "count": 6}, store=str(store))
    pids = client.run(os.getpid)
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        summary=batch.run(config, client=client, progress=False)))
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
            store.exists() and batch.done_items(_root(store))):
        time.sleep(0.1)
    done_at_kill = len(batch.done_items(_root(store)))
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=240)
    assert not thread.is_alive()
    assert 1 <= done_at_kill < 6
    assert victim not in client.run(os.getpid).values()  # it was really killed
    assert result["summary"].ok and result["summary"].done == 6
    assert sorted(batch.done_items(_root(store))) == list(range(6))
    _assert_same_items(store, ref, range(6))


def test_bad_input_files_are_reported_by_name(client, tmp_path):
    from PIL import Image

    from eglass import data

    folder = tmp_path / "pngs"
    folder.mkdir()
    x, _ = data.mnist("test")
    for i in (0, 60, 120):
        img = ((x[i, 0].numpy() + 1) * 127.5).round().astype(np.uint8)
        Image.fromarray(img).save(folder / f"digit{i:03d}.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "small.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    store = tmp_path / "pngs.zarr"
    status = cli.main(["run", "--data", str(folder), "--count", "0", "--store", str(store),
                       "--scheduler", client.scheduler.address, "--no-progress",
                       "--restarts", "1", "--steps", "15", "--finetune-steps", "3",
                       "--Ks", "4", "--etas=-1.5,1.5"])
    assert status == 1
    root = _root(store)
    names = {batch.read_item(root, i)["name"] for i in batch.done_items(root)}
    assert names == {"digit000.png", "digit060.png", "digit120.png"}
    failed = {g.attrs["name"]: g.attrs["error"] for _, g in root["items"].groups()
              if not g.attrs["done"]}
    assert sorted(failed) == ["broken.png", "small.png"]
    assert failed["broken.png"].startswith("broken.png: not a readable PNG")
    assert failed["small.png"] == ("small.png: image has shape (1, 28, 28) but the prior "
                                   "makes images (1, 32, 32)")
    summary = batch.report(store, tmp_path / "report")
    assert summary["items"] == 3 and len(summary["failed"]) == 2
    assert summary["within_spread"] is not None and 0 <= summary["within_spread"] <= 1


def test_toml_and_command_line_priority(tmp_path):
    config = _toml(tmp_path / "c.toml", {"factor": 4, "steps": 7, "methods": ["walk"]})
    values, execution = cli.settings(cli.parser().parse_args(
        ["run", "--config", str(config), "--steps", "9", "--workers", "3"]))
    assert values == {"factor": 4, "steps": 9, "methods": ["walk"]}
    assert execution == {"workers": 3}
    bad = _toml(tmp_path / "bad.toml", {"factr": 4})
    with pytest.raises(ValueError, match=r"unknown config keys \['factr'\]"):
        cli.settings(cli.parser().parse_args(["run", "--config", str(bad)]))


def test_installed_command_is_cli_main():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"eglass": "eglass.cli:main"}
    assert cli.main.__module__ == "eglass.cli"


def test_help_explains_every_option():
    out = _eglass("run", "--help", timeout=60)
    assert out.returncode == 0 and "--scheduler" in out.stdout and "--quick" in out.stdout
    assert _eglass("--help", timeout=60).returncode == 0
    top = cli.parser()
    for sub in top._subparsers._group_actions[0].choices.values():
        for action in sub._actions:
            assert action.help, f"{sub.prog} {action.option_strings or action.dest}: no help"


def test_quick_run_and_report(tmp_path):
    start = time.monotonic()
    out = _eglass("run", "--quick", "--workers", "2", cwd=tmp_path, timeout=300)
    seconds = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    # progress to a pipe (a log): plain lines, no carriage-return updates
    assert "\r" not in out.stderr and len(out.stderr.splitlines()) < 20, out.stderr
    assert "measurements: 100%" in out.stderr, out.stderr
    assert "4 of 4 measurements done" in out.stdout
    assert seconds < 120, f"--quick took {seconds:.0f} s"
    rep = _eglass("report", "eglass-quick.zarr", cwd=tmp_path, timeout=120)
    assert rep.returncode == 0, rep.stderr
    summary = json.loads((tmp_path / "eglass-quick-report.json").read_text())
    assert summary["items"] == 4 and set(summary["per_method"]) == {"eglass", "walk", "pulse"}
    assert 0 <= summary["feasible_fraction"] <= 1
    assert (tmp_path / "eglass-quick-uncertainty.png").stat().st_size > 10_000
    assert "| feasible fraction" in (tmp_path / "eglass-quick-report.md").read_text()


def test_npy_and_zarr_sources(tmp_path):
    """Images from a .npy file and a Zarr array; measurements with the operator that made
    them (no ground truth), a wrongly shaped one reported with expected vs given shape."""
    import torch
    import zarr

    from eglass import data

    x, _ = data.mnist("test")
    images = x[:3].numpy()
    np.save(tmp_path / "images.npy", images)
    zarr.create_array(str(tmp_path / "images.zarr"), data=images[:, 0])  # (N, H, W)
    for source in ("images.npy", "images.zarr"):
        config = batch.BatchConfig(data=str(tmp_path / source), count=None, factor=4)
        inputs = batch.load_inputs(config)
        assert sorted(inputs) == [0, 1, 2]
        assert np.array_equal(inputs[1]["x_true"], images[1])
        A = batch.make_operator(config)
        assert np.allclose(inputs[1]["y"], A(torch.from_numpy(images[1:2]))[0].numpy())
    y = batch.make_operator(batch.BatchConfig(factor=4))(x[:2]).numpy()  # (2, 1, 8, 8)
    np.save(tmp_path / "y.npy", y)
    config = batch.BatchConfig(data=str(tmp_path / "y.npy"), data_kind="measurements",
                               factor=4, count=None, noise=0.1)
    inputs = batch.load_inputs(config)
    assert inputs[0]["x_true"] is None and inputs[0]["y"].shape == (1, 8, 8)
    assert not np.array_equal(inputs[0]["y"], y[0])  # noise added, seeded per item
    assert np.array_equal(inputs[0]["y"], batch.load_inputs(config)[0]["y"])
    wrong = batch.load_inputs(config.replace(factor=8))
    assert wrong[0] == ("y.npy[0]: measurement has shape (1, 8, 8) but sr expects (1, 4, 4)")


def test_fast_inversion_items_match_the_full_ones_in_feasibility():
    """``inversion = "fast"``: the encoder's start, the same pipeline after it; noisy items stop
    at the discrepancy level instead of fitting the noise."""
    import torch

    full = batch.BatchConfig(count=2, Ks=(4, 8), etas=(-1.5, 1.5), seed=3)
    fast = full.replace(inversion="fast")
    inputs = batch.load_inputs(fast)
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    torch.set_num_threads(2)
    try:
        a = batch.run_item(full, 0, inputs[0]["y"], inputs[0]["x_true"])
        # library code changes no process-wide setting: threads and global RNG as they were
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(torch.random.get_rng_state(), state)
    for i, item in inputs.items():
        a = batch.run_item(full, i, item["y"], item["x_true"])
        b = batch.run_item(fast, i, item["y"], item["x_true"])
        assert a["x0_error"] <= 3e-4 * 1.001 and b["x0_error"] <= 3e-4 * 1.001
        assert b["feasible"].mean() >= 0.5 and b["z"].shape == a["z"].shape
    noisy = fast.replace(noise=0.1, count=1)
    (item,) = batch.load_inputs(noisy).values()
    out = batch.run_item(noisy, 0, item["y"], item["x_true"])
    assert 0.1**2 / 4 * 0.5 < out["x0_error"] <= 0.1**2 / 2  # stopped near sigma^2/4
    tau = noise_tau(0.1, item["y"].size)  # the default level follows the noise
    assert out["tau"] == tau and np.array_equal(out["feasible"], out["errors"] <= tau)
    assert batch.run_item(noisy.replace(tau=1e-2), 0, item["y"], item["x_true"])["tau"] == 1e-2
    with pytest.raises(ValueError, match=r"inversion must be one of 'iagan', 'fast'"):
        full.replace(inversion="pulse")


# --- any prior ------------------------------------------------------------------------------

SMALL = ["--restarts", "1", "--steps", "15", "--finetune-steps", "3", "--Ks", "4,8",
         "--etas=-1.5,1.5", "--no-progress"]


def _pggan_checkpoint(path: Path, seed: int = 0) -> Path:
    """A random-weight PGGAN checkpoint in pytorch_GAN_zoo's format: {"config", "netG",
    "avgG"}, the config an object of upstream's class models.utils.config.BaseConfig
    (registered only while the file is written). 16x16 RGB, latent 16, tanh output."""
    import types

    import torch

    from eglass.pggan import pggan_config, random_pggan

    config = pggan_config(16, latent_dim=16, width_divisor=32, loss="DCGAN")
    state = random_pggan(config, seed=seed).state_dict()
    names = ("models", "models.utils", "models.utils.config")
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        cls = type("BaseConfig", (), {"__module__": "models.utils.config"})
        sys.modules["models.utils.config"].BaseConfig = cls
        upstream = cls()
        upstream.__dict__.update(config)
        torch.save({"config": upstream, "netG": state, "avgG": state, "netD": {}}, path)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return path


def test_quick_run_and_report_of_a_pggan_checkpoint(tmp_path):
    """`eglass run --quick --prior pggan:CKPT --store S` and `eglass report S`, no other flag:
    samples of the prior (it has no data set), its pixel distance, no class count."""
    import torch

    from eglass.checkpoints import sha256_of

    ckpt = _pggan_checkpoint(tmp_path / "pgan.pth")
    store = tmp_path / "S.zarr"
    state = torch.random.get_rng_state()
    start = time.monotonic()
    assert cli.main(["run", "--quick", "--prior", f"pggan:{ckpt}", "--store", str(store)]) == 0
    seconds = time.monotonic() - start
    assert cli.main(["report", str(store)]) == 0
    assert torch.equal(torch.random.get_rng_state(), state)  # loading the prior included
    root = _root(store)
    assert sorted(batch.done_items(root)) == [0, 1, 2, 3]
    meta = root.attrs["metadata"]
    assert meta["generator_sha256"] == sha256_of(ckpt)
    assert meta["prior"]["name"] == "pggan" and meta["prior"]["image_shape"] == [3, 16, 16]
    item = batch.read_item(root, 1)
    assert item["name"] == "pggan-sample-1" and item["x_true"].shape == (3, 16, 16)
    assert item["z"].shape[1] == 16 and item["x"].shape[1:] == (3, 16, 16)
    assert item["y"].shape == (3, 2, 2) and item["classes"] is None
    assert np.array_equal(item["feasible"], item["errors"] <= 1e-2)
    summary = json.loads((tmp_path / "S-report.json").read_text())
    assert summary["items"] == 4 and summary["items_with_a_feasible_solution"] > 0
    assert summary["classes"] is None
    md = (tmp_path / "S-report.md").read_text()
    assert f"prior `pggan:{ckpt}`" in md and "PGGAN pgan.pth" in md
    assert "its samples: it has no data set" in md and "distinct classes" not in md
    assert (tmp_path / "S-uncertainty.png").stat().st_size > 5_000
    print(f"quick PGGAN run: {seconds:.0f} s")


def test_resumed_run_refuses_a_changed_checkpoint(tmp_path, client):
    ckpt = _pggan_checkpoint(tmp_path / "pgan.pth", seed=0)
    store = tmp_path / "pgan.zarr"
    args = ["run", "--prior", f"pggan:{ckpt}", "--count", "1", "--store", str(store),
            "--scheduler", client.scheduler.address, "--methods", "eglass", *SMALL]
    assert cli.main(args) == 0
    before = _root(store).attrs["metadata"]["generator_sha256"]
    _pggan_checkpoint(ckpt, seed=1)  # other weights, same path
    from eglass.checkpoints import sha256_of

    after = sha256_of(ckpt)
    out = _eglass(*args, timeout=120)  # a new process, as a resumed run is
    assert out.returncode == 2, out.stderr
    assert f"generator_sha256: store {before!r}, now {after!r}" in out.stderr
    # the digest given must be the file's
    out = _eglass(*args, "--prior-sha256", before, timeout=120)
    assert out.returncode == 2 and "SHA-256" in out.stderr, out.stderr


def test_save_checkpoint_prior_without_sha256(tmp_path, client):
    """A file of eglass.checkpoints.save_checkpoint as --prior, no --prior-sha256: the store
    records its digest; the data default to its samples (it has no data set)."""
    import torch

    from eglass.checkpoints import save_checkpoint
    from eglass.networks import Generator

    with torch.random.fork_rng():
        torch.manual_seed(0)
        sha = save_checkpoint(Generator(latent_dim=16, width=8).eval(), tmp_path / "g.pt")
    store = tmp_path / "ckpt.zarr"
    status = cli.main(["run", "--prior", str(tmp_path / "g.pt"), "--count", "2",
                       "--store", str(store), "--scheduler", client.scheduler.address,
                       "--methods", "eglass,pulse", "--pulse-n", "2", "--pulse-steps", "5",
                       *SMALL])
    assert status == 0
    root = _root(store)
    assert root.attrs["metadata"]["generator_sha256"] == sha
    assert root.attrs["config"]["prior_sha256"] is None
    item = batch.read_item(root, 0)
    assert item["name"] == "checkpoint-sample-0" and item["x"].shape[1:] == (1, 32, 32)
    assert len(item["errors"]) == 2 * 2 + 2


def test_fast_start_for_a_prior_without_an_encoder(tmp_path):
    """inversion = "fast" with a PGGAN checkpoint: no encoder, so one Gaussian start refined
    (and the full inversion where that falls short); no encoder is named anywhere."""
    ckpt = _pggan_checkpoint(tmp_path / "pgan.pth")
    config = batch.BatchConfig(prior=f"pggan:{ckpt}", count=1, inversion="fast", steps=20,
                               finetune_steps=5, Ks=(4, 8), etas=(-1.5, 1.5),
                               methods=("eglass",))
    (item,) = batch.load_inputs(config).values()
    out = batch.run_item(config, 0, item["y"], item["x_true"])
    assert out["z0"].shape == (1, 16) and out["x"].shape == (4, 3, 16, 16)
    assert out["x0_error"] <= 3e-4 * 1.001  # the fast start's fallback reaches TAU_STRICT


def test_samples_of_the_digit_prior(tmp_path, client):
    """--data samples: truths G(z*) from seeds no other part uses, one per item, the same
    whatever the count; the digit prior's classifier counts classes."""
    import torch

    from eglass.priors import get_prior

    config = batch.BatchConfig(data="samples", count=3, seed=5)
    inputs = batch.load_inputs(config)
    prior = get_prior(config.prior)
    _, x = prior.samples(1, seed=batch.item_seed(5, 2))
    assert np.array_equal(inputs[2]["x_true"], x[0].numpy())
    assert inputs[2]["name"] == f"{prior.name}-sample-2"
    assert np.array_equal(batch.load_inputs(config.replace(count=10), [2])[2]["x_true"],
                          inputs[2]["x_true"])
    with pytest.raises(ValueError, match="give a count"):
        batch.load_inputs(config.replace(count=None))
    store = tmp_path / "samples.zarr"
    status = cli.main(["run", "--data", "samples", "--count", "2", "--store", str(store),
                       "--scheduler", client.scheduler.address, *SMALL])
    assert status == 0
    item = batch.read_item(_root(store), 1)
    assert item["x_true"].shape == (1, 32, 32) and item["classes"] >= 1
    assert torch.isfinite(torch.as_tensor(item["x0_psnr"]))


def test_priors_command_lists_priors_and_reference_forms(capsys):
    assert cli.main(["priors"]) == 0
    out = capsys.readouterr().out
    from eglass.priors import default_prior, list_schemes

    assert default_prior().name in out and default_prior().description in out
    for scheme in list_schemes():
        assert scheme.form in out and scheme.description in out
        for option in scheme.options:
            assert f"{option}:" in out
    assert "--prior-sha256 optional" in out


def test_unknown_prior_is_a_clear_error(tmp_path, capsys):
    status = cli.main(["run", "--prior", "nonesuch", "--store", str(tmp_path / "x.zarr")])
    assert status == 2
    assert "unknown prior 'nonesuch'" in capsys.readouterr().err
    assert not (tmp_path / "x.zarr").exists()

"""The ``eglass`` command: ``eglass run ...`` explores a whole test set on Dask into a Zarr
store (:func:`eglass.batch.run`); ``eglass report STORE`` summarizes one
(:func:`eglass.batch.report`); ``eglass priors`` lists the priors ``--prior`` takes
(:func:`eglass.priors.list_priors`, :func:`eglass.priors.list_schemes`). ``python -m eglass``
is the same command.

``eglass run --prior`` takes any prior of :mod:`eglass.priors`: a registered name or a
reference to weights on disk (``pggan:PATH``, ``biggan:FOLDER?class=207``, a
:func:`eglass.checkpoints.save_checkpoint` file); the run uses the prior's own distance,
classifier and encoder, and ``--quick`` its data set (its samples where it has none).

Settings come from, in increasing priority: the defaults of
:class:`eglass.batch.BatchConfig`, ``--quick``, a TOML file (``--config run.toml``, the same
keys as the options with ``_`` for ``-``, e.g. ``finetune_steps = 50``), then the options
given on the command line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from .version import __version__

__all__ = ["main", "parser", "QUICK", "describe_priors"]

# `eglass run --quick`: a few items of the prior's data (its samples where it has none),
# small budgets, every method (well under a minute for a small prior).
QUICK = dict(count=4, restarts=1, steps=30, finetune_steps=10, Ks=[4, 8], etas=[-1.5, 1.5],
             methods=["eglass", "walk", "pulse"], walk_steps=2, pulse_n=2, pulse_steps=20,
             store="eglass-quick.zarr")
# Options of `eglass run` that steer the execution, not the results.
_EXECUTION = ("workers", "scheduler", "progress")


# Options whose value is a comma-separated list that may start with a minus sign.
_LISTS = ("--etas", "--Ks")
_NUMBERS = re.compile(r"^-\.?\d[\d.eE+-]*(,\s*-?\.?\d[\d.eE+-]*)*,?$")


def _attach_negative_lists(argv: list[str]) -> list[str]:
    """``--etas -3,-1.5`` as ``--etas=-3,-1.5``: argparse takes a value that starts with
    ``-`` (and is not one plain number) for an option, so the list shown in ``--help``
    would be refused."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _LISTS and _NUMBERS.match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _words(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``eglass`` (every option has a help text)."""
    top = argparse.ArgumentParser(
        prog="eglass", description="Explore the solutions of linear inverse problems under a "
        "GAN prior (e-GLASS), for a whole test set.")
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="explore every measurement of a data set into a Zarr store (resumable)",
        description="Invert, compute the metrics and explore every measurement on Dask; "
        "results go to a Zarr store, and re-running the same command resumes it.")
    a = run.add_argument
    a("--config", type=Path, metavar="FILE.toml", help="TOML file with any of the keys "
      "below (e.g. factor = 4); options on the command line override it")
    a("--quick", action="store_true", help="a small run: 4 items of the prior's data set (its "
      "samples for a prior without one), small budgets, every method (under a minute for a "
      "small prior), into eglass-quick.zarr unless --out is given")
    for options in (_problem_options, _data_options, _prior_options, _execution_options):
        options(run)
    rep = sub.add_parser("report", help="summarize a store: JSON, Markdown and a PNG sheet of "
                         "uncertainty maps", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    rep.add_argument("store", type=Path, help="the Zarr store of an `eglass run`")
    rep.add_argument("--out", type=Path, help="folder of the report files (default: the "
                     "store's folder)")
    rep.add_argument("--sample", type=int, default=8, help="items on the figure sheet")
    rep.add_argument("--seed", type=int, default=0, help="seed of the sample")
    sub.add_parser("priors", help="list the registered priors and the reference forms "
                   "--prior takes, with their options",
                   description="The priors `eglass run --prior` takes.")
    return top


def _problem_options(run: argparse.ArgumentParser) -> None:
    from .batch import OPERATORS

    g = run.add_argument_group("problem")
    g.add_argument("--operator", choices=OPERATORS, help="forward model: super-resolution, "
                   "inpainting, Gaussian blur, compressed sensing or denoising (default sr)")
    g.add_argument("--factor", type=int, help="super-resolution factor (default 8)")
    g.add_argument("--box", type=int, help="side of the centred hole for inpainting (default 12)")
    g.add_argument("--blur-size", type=int, help="Gaussian blur kernel size (default 7)")
    g.add_argument("--blur-sigma", type=float, help="Gaussian blur width (default 2.0)")
    g.add_argument("--cs-m", type=int, help="number of compressed-sensing measurements "
                   "(default 100)")
    g.add_argument("--operator-seed", type=int, help="seed of the compressed-sensing matrix "
                   "(default 0)")
    g.add_argument("--noise", type=float, help="std of Gaussian measurement noise on the "
                   "[-1, 1] scale, drawn per item (default 0); it also sets the default "
                   "--tau (the discrepancy principle)")


def _data_options(run: argparse.ArgumentParser) -> None:
    from .batch import DATA_KINDS, PRIOR_DATA, SAMPLES

    g = run.add_argument_group("data")
    g.add_argument("--data", help=f"'{PRIOR_DATA}' (the prior's own held-out data set, "
                   f"interleaved by class, default; its samples for a prior without one), "
                   f"'{SAMPLES}' (truths G(z*) of the prior from seeds no other part uses), a "
                   "folder of PNGs of the prior's image size, a .npy file or a Zarr array")
    g.add_argument("--data-kind", choices=DATA_KINDS, help="the data are images (measured "
                   "with --operator) or measurements made by --operator (default images)")
    g.add_argument("--count", type=int, help="number of items (default 20; 0: all of the data)")
    g.add_argument("--start", type=int, help="first item (default 0)")


def _prior_options(run: argparse.ArgumentParser) -> None:
    from .batch import BATCH_METHODS, INVERSIONS
    from .priors import default_prior

    g = run.add_argument_group("prior and methods")
    g.add_argument("--prior", help=f"a registered prior (default {default_prior().name!r}) or "
                   "a reference to weights on disk: pggan:PATH, "
                   "biggan:FOLDER?class=207&truncation=0.4, or a file of "
                   "eglass.checkpoints.save_checkpoint (`eglass priors` lists them)")
    g.add_argument("--prior-sha256", help="SHA-256 the prior's weights file must have "
                   "(optional: the store records the file's digest either way, and a resumed "
                   "run refuses a file that changed)")
    g.add_argument("--methods", type=_words, help="comma-separated subset of "
                   f"{','.join(BATCH_METHODS)} (default eglass)")
    g.add_argument("--inversion", choices=INVERSIONS, help="first solution: 'iagan' (the "
                   "full inversion, default) or 'fast' (the encoder's guess, refined)")
    g.add_argument("--restarts", type=int, help="IAGAN random starts (default 4)")
    g.add_argument("--steps", type=int, help="IAGAN latent-fit steps (default 300)")
    g.add_argument("--finetune-steps", type=int, help="IAGAN fine-tuning steps (default 300)")
    g.add_argument("--Ks", type=_ints, help="e-GLASS direction indices, e.g. 4,6,8 (default)")
    g.add_argument("--etas", type=_floats, help="steps along each direction (default: the "
                   "prior's, else the method's -3,-1.5,1.5,3)")
    g.add_argument("--walk-steps", type=int, help="steps of each null-space walk (default 16)")
    g.add_argument("--pulse-n", type=int, help="PULSE restarts per measurement (default 8)")
    g.add_argument("--pulse-steps", type=int, help="PULSE steps per restart (default 100)")
    g.add_argument("--tau", type=float, help="feasibility level of the measurement error "
                   "(default: from --noise, sigma^2/4 times the 99%% chi-square margin; "
                   "0.01 without noise)")
    g.add_argument("--seed", type=int, help="run seed; item i uses SeedSequence([seed, i]) "
                   "(default 0)")


def _execution_options(run: argparse.ArgumentParser) -> None:
    g = run.add_argument_group("output and execution")
    g.add_argument("--out", "--store", dest="store", metavar="STORE", help="Zarr store to "
                   "write or resume (default eglass-run.zarr; --store is the older name)")
    g.add_argument("--workers", type=int, help="LocalCluster worker processes, one thread "
                   "each (default: one per CPU core)")
    g.add_argument("--scheduler", help="address of an existing Dask scheduler, "
                   "tcp://HOST:PORT, instead of a LocalCluster")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")


def _read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found (or not a file)")
    with open(path, "rb") as f:
        values = tomllib.load(f)
    return {k.replace("-", "_"): v for k, v in values.items()}


def settings(args: argparse.Namespace) -> tuple[dict, dict]:
    """``(config values, execution options)`` from the defaults, ``--quick``, the TOML file
    and the command line, in that order of priority."""
    from .batch import BatchConfig

    values: dict = dict(QUICK) if args.quick else {}
    if args.config is not None:
        values.update(_read_toml(args.config))
    given = {k: v for k, v in vars(args).items()
             if v is not None and k not in ("command", "config", "quick")}
    values.update(given)
    execution = {k: values.pop(k) for k in _EXECUTION if k in values}
    if values.get("count") == 0:
        values["count"] = None
    BatchConfig.from_dict(values)  # unknown keys and bad values: one clear error
    return values, execution


def describe_priors() -> str:
    """What ``eglass priors`` prints: the registered priors (name, description; the default
    marked) and the reference forms with their options."""
    from .priors import default_prior, get_prior, list_priors, list_schemes

    schemes = list_schemes()
    forms = {scheme.form for scheme in schemes}
    default = default_prior().name
    lines = ["Registered priors (eglass run --prior NAME):"]
    for name in (n for n in list_priors() if n not in forms):
        mark = " (default)" if name == default else ""
        lines.append(f"  {name}{mark}: {get_prior(name).description}")
    lines += ["", "References to weights on disk (eglass run --prior REFERENCE; "
              "--prior-sha256 optional):"]
    for scheme in schemes:
        lines.append(f"  {scheme.form}: {scheme.description}")
        if scheme.options:
            lines.append("      options, as ?key=value&...: " + "; ".join(
                f"{key}: {meaning}" for key, meaning in scheme.options.items()))
    return "\n".join(lines)


def _silence_stderr() -> None:
    """After the one line of an interrupted command: nothing more on stderr (a Dask cluster
    interrupted while it starts logs tracebacks as the process exits)."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open until the process exits
    try:
        os.dup2(devnull.fileno(), sys.stderr.fileno())
    except (OSError, ValueError):  # a stderr without a file descriptor (captured)
        pass
    sys.stderr = devnull


def _failure(command: str, err: BaseException) -> int:
    """Print ``err`` as one line naming the command; the exit status (2; 130 for Ctrl-C)."""
    if isinstance(err, KeyboardInterrupt):
        print(f"eglass {command}: interrupted; re-run the same command to resume",
              file=sys.stderr, flush=True)
        _silence_stderr()
        return 130
    kind = "" if type(err) in (ValueError, FileNotFoundError) else f"{type(err).__name__}: "
    message = " ".join(str(err).split()) or "(no message)"
    print(f"eglass {command}: {kind}{message}", file=sys.stderr)
    return 2


def _report(args: argparse.Namespace) -> int:
    from .batch import report

    summary = report(args.store, args.out, sample=args.sample, seed=args.seed)
    print("\n".join(summary["files"].values()))
    for state in ("failed", "damaged"):
        for index, message in summary[state].items():
            print(f"  item {index} {state}: {message}", file=sys.stderr)
    return 1 if summary["failed"] or summary["damaged"] else 0


def _run(args: argparse.Namespace) -> int:
    from .batch import BatchConfig, run

    values, execution = settings(args)
    config = BatchConfig.from_dict(values)
    summary = run(config, workers=execution.get("workers"),
                  scheduler=execution.get("scheduler"),
                  progress=execution.get("progress", True))
    print(f"{summary.done} of {summary.total} measurements done in {config.store} "
          f"({summary.skipped} already there), {len(summary.failed)} failed, "
          f"{summary.seconds:.1f} s")
    for index, message in summary.failed.items():
        print(f"  item {index} failed: {message}", file=sys.stderr)
    return 0 if summary.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (1 when some items failed or are damaged, 2
    on any error: bad settings, a refused or locked store, an unknown prior, unreadable data,
    an unreachable scheduler, a file system error; 130 on Ctrl-C), the error printed as one
    line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(_attach_negative_lists(argv))
    try:
        if args.command == "priors":
            print(describe_priors())
            return 0
        return (_report if args.command == "report" else _run)(args)
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 - one line, never a traceback
        return _failure(args.command, err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

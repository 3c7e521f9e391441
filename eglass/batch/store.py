"""The Zarr store of a batch run: created with the config and metadata, refused when it was
written by another config or another prior's weights, and written item by item (``done``
last, so that a killed run resumes where it stopped).

Layout (Zarr v3): root attributes ``format`` (:data:`FORMAT`), ``config``
(:meth:`eglass.batch.BatchConfig.to_dict`) and ``metadata`` (versions, the prior and its
weights' SHA-256, the seed); one group per item, ``items/00012``, with the arrays ``y``,
``x_true`` (when known), ``z0``, ``x0``, ``z``, ``x``, ``errors``, ``feasible``, ``method``,
``mean``, ``std`` and the item's numbers as attributes, ``done = True`` last.
"""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from .config import BatchConfig

__all__ = ["FORMAT", "NOT_COMPARED", "ITEM_ARRAYS", "ConfigMismatch", "metadata",
           "open_store", "open_report_store", "item_states", "done_items", "write_item",
           "read_item"]

# /2: the prior is any eglass.priors reference, data "prior" or "samples", the metadata
# record the prior (and a digest for any weights file).
FORMAT = "eglass-batch/2"
# Keys of BatchConfig that are not compared: where results go, and the digest a user may
# give (the digest of the weights themselves is compared, from the metadata).
NOT_COMPARED = ("store", "prior_sha256")
DIGEST = "generator_sha256"


class ConfigMismatch(ValueError):
    """The store was written by a different config (or with other weights of the prior)."""


def metadata(config: BatchConfig, sha256: str | None, prior: dict | None = None) -> dict:
    """The store's metadata: versions, the weights' SHA-256, the prior (``prior``:
    :func:`eglass.batch.prior.describe_prior`), the seed and how item seeds derive from it."""
    import dask
    import distributed
    import torch
    import zarr

    from ..version import __version__

    return dict(
        format=FORMAT, eglass=__version__, torch=torch.__version__, numpy=np.__version__,
        zarr=zarr.__version__, dask=dask.__version__, distributed=distributed.__version__,
        python=platform.python_version(), generator_sha256=sha256, prior=prior,
        seed=config.seed,
        item_seeds="numpy.random.SeedSequence([seed, index]).generate_state(1)[0]",
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _differences(stored: dict, current: dict) -> list[str]:
    keys = sorted((set(stored) | set(current)) - set(NOT_COMPARED))
    return [k for k in keys if stored.get(k) != current.get(k)]


def _check_same(path: Path, root, config: BatchConfig, sha256: str | None) -> None:
    """Raise :class:`ConfigMismatch` naming every key (and the digest) that differs."""
    if root.attrs.get("format") != FORMAT:
        raise ConfigMismatch(f"{path} exists but is not an eglass batch store of this "
                             f"version (format {root.attrs.get('format')!r}, expected "
                             f"{FORMAT!r}); choose another --out")
    stored, current = dict(root.attrs["config"]), config.to_dict()
    diff = _differences(stored, current)
    stored_sha = dict(root.attrs["metadata"]).get(DIGEST)
    if sha256 and stored_sha != sha256:
        stored[DIGEST], current[DIGEST] = stored_sha, sha256
        diff.append(DIGEST)
    if diff:
        details = "; ".join(f"{k}: store {stored.get(k)!r}, now {current.get(k)!r}"
                            for k in diff)
        unset = [k for k in diff if current.get(k) is None and stored.get(k) is not None]
        hint = (f"; {', '.join(unset)} now unset (resolved from the prior and the method): "
                "pass the store's value to resume" if unset else "")
        raise ConfigMismatch(f"{path} was written by a different config ({details}{hint}); "
                             "re-run with the same settings to resume, or choose another "
                             "--out")


def open_store(config: BatchConfig, sha256: str | None, *, prior: dict | None = None):
    """The store's root group, created with ``config`` and metadata (``sha256``: of the
    prior's weights; ``prior``: what to record of it), or opened if it holds the same config
    and digest; otherwise :class:`ConfigMismatch` naming the differing keys (for changed
    weights, both digests)."""
    import zarr

    path = Path(config.store)
    if _is_store(path):
        root = _open_existing(path, "r+")
        _check_same(path, root, config, sha256)
        return root
    attrs = dict(format=FORMAT, config=config.to_dict(), metadata=metadata(config, sha256, prior))
    _check_json(attrs)  # before anything is written: a refused store leaves no file behind
    root = zarr.open_group(str(path), mode="w")
    root.attrs.update(attrs)
    root.require_group("items")
    return root


def _check_json(attrs: dict) -> None:
    """A TypeError naming the first entry of the store's attributes that JSON cannot hold."""
    for section, values in attrs.items():
        for key, value in (values.items() if isinstance(values, dict) else [(None, values)]):
            try:
                json.dumps(value)
            except (TypeError, ValueError) as err:
                where = section if key is None else f"{section}[{key!r}]"
                raise TypeError(f"the store's {where} must be JSON data (str, number, bool, "
                                f"None, list, dict), got {type(value).__name__} {value!r}"
                                ) from err


def _is_store(path: Path) -> bool:
    """Whether ``path`` is an existing store (a folder with ``zarr.json``); ``False`` where
    one can be created (nothing there, or an empty folder); a ValueError naming the path
    otherwise, before anything is written there."""
    if not path.exists():
        return False
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not a Zarr store (a folder); choose another --out")
    if (path / "zarr.json").is_file():
        return True
    if any(path.iterdir()):
        raise ValueError(f"{path} is a folder that is not a Zarr store (it has files but no "
                         f"zarr.json); it is left untouched: choose another --out")
    return False


def _open_existing(path: Path, mode: str):
    """The root group of the store at ``path``, or a ValueError naming it (damaged root)."""
    import zarr

    try:
        return zarr.open_group(str(path), mode=mode)
    except (ValueError, KeyError, OSError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path} cannot be read as a Zarr store ({type(err).__name__}: "
                         f"{err})") from err


def _item_name(index: int) -> str:
    return f"{index:05d}"


# The arrays of every done item (and x_true where the images are measured here).
ITEM_ARRAYS = ("y", "z0", "x0", "z", "x", "errors", "feasible", "method", "mean", "std")


def _item_arrays(root) -> tuple[str, ...]:
    """The arrays every done item of the store has: :data:`ITEM_ARRAYS`, and ``x_true``
    where the run measured images itself (``data_kind="images"``: the truth is known)."""
    known = dict(root.attrs.get("config", {})).get("data_kind") == "images"
    return ITEM_ARRAYS + (("x_true",) if known else ())


def _item_names(root) -> list[str]:
    """The item groups' names, listed without reading them (one damaged group must not
    hide the others)."""
    if "items" not in root:  # a store being created
        return []
    folder = Path(str(root.store.root)) / root.path / "items"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def _state(items, name: str, arrays: tuple[str, ...]) -> tuple[str, str | None]:
    """``("done" | "failed" | "damaged", message)`` of one item group; a damaged one's
    message names the array (``arrays``: those a done item has) that is missing or
    unreadable."""
    what = "its zarr.json"
    try:
        group = items[name]
        attrs = dict(group.attrs)
        if attrs.get("done") is not True:
            return "failed", attrs.get("error") or "unfinished (a run stopped mid-write)"
        for key in arrays:
            what = f"array {key!r}"
            if key not in group:  # (a lost chunk cannot be told from one of fill values)
                return "damaged", f"{what} is missing"
            group[key]  # its metadata reads
    except (ValueError, KeyError, OSError) as err:  # a truncated zarr.json included
        return "damaged", f"{what} is unreadable ({type(err).__name__}: {err})"
    return "done", None


def item_states(root) -> dict[int, tuple[str, str | None]]:
    """Each item's ``(state, message)``: ``"done"`` (complete), ``"failed"`` (its error, or
    unfinished) or ``"damaged"`` (marked done, but a file is unreadable or missing). Resume
    redoes every item that is not ``"done"``; :func:`eglass.batch.report` lists the others."""
    try:
        names = _item_names(root)
        items = root["items"] if names else None
    except (ValueError, KeyError, OSError) as err:
        raise ValueError(f"the store's items group (items/zarr.json) cannot be read "
                         f"({type(err).__name__}: {err})") from err
    arrays = _item_arrays(root)
    return {int(name): _state(items, name, arrays) for name in names}


def done_items(root) -> set[int]:
    """Indices of the complete items (``done`` set and every array readable)."""
    return {i for i, (state, _) in item_states(root).items() if state == "done"}


def write_item(root, index: int, inputs: dict | None, result: dict) -> None:
    """Write an item's arrays, then its attributes with ``done`` last (a failed item: its
    ``error``, no ``done``). ``inputs``: the item of :func:`eglass.batch.load_inputs`;
    ``result``: that of :func:`eglass.batch.run_item`, or ``{"error": message}``."""
    items = root.require_group("items")
    group = items.create_group(_item_name(index), overwrite=True)
    attrs = dict(index=index, name=None if inputs is None else inputs["name"])
    if "error" in result:
        group.attrs.update(**attrs, error=result["error"], done=False)
        return
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    arrays["y"] = inputs["y"]
    if inputs["x_true"] is not None:
        arrays["x_true"] = inputs["x_true"]
    for key, value in arrays.items():
        group.create_array(key, data=np.ascontiguousarray(value))
    scalars = {k: (None if isinstance(v, float) and math.isnan(v) else v)
               for k, v in result.items() if not isinstance(v, np.ndarray)}
    group.attrs.update(**attrs, **scalars, error=None)
    group.attrs["done"] = True


def open_report_store(path: Path):
    """The root of the store at ``path``, read-only, or an error naming it (absent, not a
    store, another format)."""
    if not path.exists():
        raise FileNotFoundError(f"store {path} not found")
    if not _is_store(path):
        raise ValueError(f"{path} is an empty folder, not an eglass batch store")
    root = _open_existing(path, "r")
    if root.attrs.get("format") != FORMAT:
        raise ValueError(f"{path} is not an eglass batch store of this version (format "
                         f"{root.attrs.get('format')!r}, expected {FORMAT!r})")
    return root


def read_item(root, index: int) -> dict:
    """An item's arrays and attributes as one dict."""
    group = root["items"][_item_name(index)]
    out = dict(group.attrs)
    for name, array in group.arrays():
        out[name] = array[...]
    return out

r"""NVlabs network pickles (``stylegan2-ada-pytorch``, ``stylegan3``), read without running them.

Upstream's pickles (``network-snapshot-*.pkl``, ``ffhq.pkl``, ...) hold a dict with ``G``,
``D``, ``G_ema``, ``training_set_kwargs`` and ``augment_pipe``. Each network is a
``torch_utils.persistence`` object: the pickle calls
``torch_utils.persistence._reconstruct_persistent_obj(meta)``, where ``meta`` carries the
source code of the module that defined the class (``module_src``, which upstream
**executes** with ``exec``), the class name and the object's state (its ``__dict__``:
``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``, ...).

:class:`AllowListUnpickler` reads such a file with :mod:`pickle` and an allow-list of
globals: that reconstruct function is replaced by :class:`Persistent`, which keeps
``class_name`` and ``state`` and never executes, compiles or imports ``module_src``; tensors
are rebuilt by torch's own functions, their storages by ``torch.load(weights_only=True)``;
a few plain containers and numpy scalars are allowed. Any other global -- ``os.system``,
``builtins.exec``, a class of upstream's ``training`` package -- is refused with an
:class:`UnsafePickleError` naming it, before anything is called.
"""

from __future__ import annotations

import codecs
import io
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from .networks import StyleGAN2Config, stylegan2_config

__all__ = [
    "Persistent",
    "EasyDict",
    "UnsafePickleError",
    "AllowListUnpickler",
    "ALLOWED_GLOBALS",
    "read_pickle",
    "module_state",
    "generator_config",
    "read_generator",
    "state_config",
    "count_indexed",
    "require_keys",
]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list."""


class Persistent:
    """What a ``torch_utils.persistence`` object stored, as data: ``class_name``, ``state``
    (the object's ``__dict__``) and ``module_src`` (kept as text, never executed)."""

    def __init__(self, meta: dict):
        if not isinstance(meta, dict) or meta.get("type") != "class" \
                or not isinstance(meta.get("state"), dict):
            raise pickle.UnpicklingError(
                "a torch_utils.persistence object without the expected meta dict "
                "(type='class', class_name, state)")
        self.class_name = str(meta.get("class_name"))
        self.version = meta.get("version")
        self.state = meta["state"]
        self.module_src = meta.get("module_src", "")

    @property
    def init_kwargs(self) -> dict:
        """The keyword arguments the object was constructed with."""
        kwargs = dict(self.state.get("_init_kwargs") or {})
        if self.state.get("_init_args"):
            kwargs["__args__"] = tuple(self.state["_init_args"])
        return kwargs

    def child(self, name: str) -> Persistent | None:
        """The submodule ``name`` (or ``None``)."""
        return (self.state.get("_modules") or {}).get(name)

    def __repr__(self) -> str:
        return f"Persistent({self.class_name!r})"


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _storage(data: bytes):
    """A tensor storage pickled by torch (``torch.storage._load_from_bytes``), read with
    ``torch.load(weights_only=True)`` instead of upstream's unrestricted load."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _parameter(data, requires_grad, *_):
    """``torch._utils._rebuild_parameter[_with_state]``: the tensor as a parameter (hooks and
    extra state dropped)."""
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _numpy_scalar(dtype, data=None):
    """A numpy scalar of a plain (non-object) dtype from its bytes."""
    dtype = np.dtype(dtype)
    if dtype.hasobject or not isinstance(data, bytes):
        raise UnsafePickleError(f"refusing a numpy scalar of dtype {dtype} (only plain "
                                "numeric scalars are read)")
    return np.frombuffer(data, dtype=dtype)[0]


def _encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (latin-1 only)."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _numpy_reconstruct(cls, shape, dtype_code):
    if cls is not np.ndarray:
        raise UnsafePickleError(f"refusing numpy reconstruction of {cls!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


ALLOWED_GLOBALS = {
    "torch_utils.persistence._reconstruct_persistent_obj": Persistent,
    "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": _parameter,
    "torch._utils._rebuild_parameter_with_state": _parameter,
    "torch.storage._load_from_bytes": _storage,
    "collections.OrderedDict": OrderedDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "dnnlib.util.EasyDict": EasyDict,
    "numpy.dtype": np.dtype,
    "numpy.ndarray": np.ndarray,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy._core.multiarray.scalar": _numpy_scalar,
    "numpy.core.multiarray._reconstruct": _numpy_reconstruct,
    "numpy._core.multiarray._reconstruct": _numpy_reconstruct,
    "_codecs.encode": _encode,
}


class AllowListUnpickler(pickle.Unpickler):
    """:class:`pickle.Unpickler` that resolves only the globals of :data:`ALLOWED_GLOBALS`
    (to eglass's safe stand-ins) and refuses every other one, naming it."""

    def __init__(self, file, *, source: str = "the pickle"):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        key = f"{module}.{name}"
        if key in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[key]
        raise UnsafePickleError(
            f"{self.source} asks for the global {key!r}, which is not on load_stylegan's "
            f"allow-list; nothing in the file was run. Allowed: tensors, parameters, "
            f"containers, numpy scalars and torch_utils.persistence objects (read as data, "
            f"their stored source is never executed)")

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.source} uses persistent ids ({pid!r}): not an NVlabs "
                                "network pickle")


def read_pickle(path: str | Path):
    """The object in an NVlabs network pickle, through :class:`AllowListUnpickler`.

    Raises :class:`UnsafePickleError` (a :class:`pickle.UnpicklingError`) naming the first
    global outside the allow-list."""
    path = Path(path)
    with open(path, "rb") as f:
        return AllowListUnpickler(f, source=str(path)).load()


def module_state(record: Persistent, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict (parameters and buffers, ``name -> tensor``) of a stored module tree,
    in ``nn.Module.state_dict`` naming; a submodule that is not a :class:`Persistent` record
    is refused by name."""
    state = {}
    skip = set(record.state.get("_non_persistent_buffers_set") or ())
    for kind in ("_parameters", "_buffers"):
        for name, value in (record.state.get(kind) or {}).items():
            if value is not None and not (kind == "_buffers" and name in skip):
                if not isinstance(value, torch.Tensor):
                    raise ValueError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
                state[prefix + name] = value.detach()
    for name, child in (record.state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, Persistent):
            raise ValueError(f"submodule {prefix}{name} of {record.class_name} is a "
                             f"{type(child).__name__}, not a stored persistent module")
        state.update(module_state(child, f"{prefix}{name}."))
    return state


# Upstream's init kwargs -> StyleGAN2Config fields; the kwargs that only matter for training or
# for float16 are accepted and ignored; any other is refused by name.
_MAPPING = {"num_layers": "mapping_layers", "layer_features": "mapping_features",
            "lr_multiplier": "lr_multiplier"}
_SYNTHESIS = {"conv_clamp": "conv_clamp", "resample_filter": "resample_filter",
              "use_noise": "use_noise", "kernel_size": "kernel_size"}
_IGNORED = {"w_avg_beta", "embed_features", "num_fp16_res", "fp16_channels_last",
            "channels_last", "fused_modconv_default"}
_FIXED = {"activation": "lrelu", "architecture": "skip"}
_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
STYLEGAN3_REPO_CONV_CLAMP = 256  # SynthesisBlock's default in stylegan3's networks_stylegan2


def _fields(kwargs: dict, names: dict, where: str, source: str) -> dict:
    fields = {}
    for key, value in kwargs.items():
        if key in names:
            fields[names[key]] = tuple(value) if isinstance(value, list | tuple) else value
        elif key in _FIXED:
            if value != _FIXED[key]:
                raise ValueError(f"{source}: G_ema has {where}{key}={value!r}; load_stylegan "
                                 f"supports StyleGAN2's {key}={_FIXED[key]!r} only")
        elif key not in _IGNORED and key not in ("channel_base", "channel_max"):
            raise ValueError(f"{source}: G_ema was built with {where}{key}={value!r}, which "
                             f"load_stylegan does not know; refusing to guess its effect")
    return fields


def generator_config(record: Persistent, source: str = "the pickle") -> StyleGAN2Config:
    """The :class:`~eglass.stylegan.networks.StyleGAN2Config` of a stored upstream
    ``Generator`` (its ``_init_kwargs``); StyleGAN3, conditional generators and architectures
    other than ``"skip"`` are refused with a message saying so.

    Two layouts: ``stylegan2-ada-pytorch`` nests the synthesis network's kwargs under
    ``synthesis_kwargs`` (``conv_clamp`` absent means none); ``stylegan3``'s
    ``networks_stylegan2`` takes them at the top level, where an absent ``conv_clamp`` means
    its default, 256."""
    synthesis = record.child("synthesis")
    if synthesis is not None and (synthesis.child("input") is not None or any(
            getattr(m, "class_name", "") == "SynthesisInput"
            for m in (synthesis.state.get("_modules") or {}).values())):
        raise ValueError(f"{source}: G_ema is a StyleGAN3 generator (its synthesis network "
                         "starts from a SynthesisInput of Fourier features); load_stylegan "
                         "reads StyleGAN2 / StyleGAN2-ADA generators only")
    if record.class_name != "Generator":
        raise ValueError(f"{source}: G_ema is a {record.class_name!r}, expected upstream's "
                         "'Generator'")
    kwargs = record.init_kwargs
    kwargs.update(zip(_POSITIONAL, kwargs.pop("__args__", ()), strict=False))
    missing = [k for k in _POSITIONAL if k not in kwargs]
    if missing:
        raise ValueError(f"{source}: G_ema's init kwargs lack {missing}; got {sorted(kwargs)}")
    if kwargs["c_dim"]:
        raise ValueError(f"{source}: G_ema is conditional (c_dim={kwargs['c_dim']}); "
                         "load_stylegan loads unconditional generators only")
    mapping = dict(kwargs.pop("mapping_kwargs", None) or {})
    if "synthesis_kwargs" in kwargs:  # stylegan2-ada-pytorch: conv_clamp defaults to None
        synthesis_kwargs, where, clamp = dict(kwargs.pop("synthesis_kwargs") or {}), \
            "synthesis_kwargs.", None
    else:  # stylegan3's networks_stylegan2: Generator(**synthesis_kwargs), clamp 256
        synthesis_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k not in _POSITIONAL}
        where, clamp = "", STYLEGAN3_REPO_CONV_CLAMP
    fields = {"conv_clamp": clamp, **_fields(mapping, _MAPPING, "mapping_kwargs.", source),
              **_fields(synthesis_kwargs, _SYNTHESIS, where, source)}
    return stylegan2_config(
        int(kwargs["img_resolution"]),
        channel_base=int(synthesis_kwargs.get("channel_base", 32768)),
        channel_max=int(synthesis_kwargs.get("channel_max", 512)), z_dim=int(kwargs["z_dim"]),
        w_dim=int(kwargs["w_dim"]), img_channels=int(kwargs["img_channels"]), **fields)


def read_generator(path: str | Path) -> tuple[StyleGAN2Config, dict[str, torch.Tensor]]:
    """``(config, state dict)`` of the ``G_ema`` of an NVlabs network pickle, read through
    :class:`AllowListUnpickler` (nothing in the file is executed)."""
    data = read_pickle(path)
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), Persistent):
        got = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected an NVlabs network pickle, a dict whose 'G_ema' is "
                         f"a torch_utils.persistence network; got {got}")
    record = data["G_ema"]
    return generator_config(record, str(path)), module_state(record)


def count_indexed(state: dict, template: str, index=lambda i: i, start: int = 0) -> int:
    """How many consecutive ``i = start, start + 1, ...`` have ``template.format(index(i))``
    in ``state``."""
    n = 0
    while template.format(index(start + n)) in state:
        n += 1
    return n


def require_keys(state: dict, keys, what: str, source: str) -> None:
    """``ValueError`` unless every key is in ``state`` (a state dict of ``what``)."""
    absent = [k for k in keys if k not in state]
    if absent:
        raise ValueError(f"{source}: not {what} state dict (no {', '.join(absent)}); keys "
                         f"begin {sorted(state)[:6]}")


def state_config(state: dict[str, torch.Tensor], source: str = "the file") -> StyleGAN2Config:
    """The :class:`~eglass.stylegan.networks.StyleGAN2Config` of an upstream ``G_ema`` state
    dict, read from its shapes (a ``.pt`` export has no init kwargs: upstream's defaults are
    assumed for what shapes do not show -- mapping learning-rate multiplier 0.01, no
    ``conv_clamp``)."""
    require_keys(state, ("mapping.fc0.weight", "synthesis.b4.const"), "a StyleGAN2 G_ema",
                 source)
    layers = count_indexed(state, "mapping.fc{}.weight")
    channels = [state["synthesis.b4.const"].shape[0]] + [
        state[f"synthesis.b{8 * 2**i}.conv0.weight"].shape[0]
        for i in range(count_indexed(state, "synthesis.b{}.conv0.weight", lambda i: 8 * 2**i))]
    first, last = state["mapping.fc0.weight"], state[f"mapping.fc{layers - 1}.weight"]
    rgb = state.get(f"synthesis.b{4 * 2 ** (len(channels) - 1)}.torgb.weight")
    return StyleGAN2Config(
        z_dim=first.shape[1], w_dim=last.shape[0], channels=tuple(channels),
        img_channels=3 if rgb is None else rgb.shape[0], mapping_layers=layers,
        mapping_features=first.shape[0] if layers > 1 else None,
        kernel_size=state["synthesis.b4.conv1.weight"].shape[-1]
        if "synthesis.b4.conv1.weight" in state else 3,
        use_noise="synthesis.b4.conv1.noise_strength" in state)

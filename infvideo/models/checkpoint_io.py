"""Original checkpoint files -> a model, by one procedure for every family (docs/reference-notes.md, C1).

``load_files`` is that procedure; a family supplies its expected files (``CheckpointFile``), one
converter and one drop list per file:

1. every file is present (``checkpoint_paths`` checks the config's paths, HF folders included, before
   anything slow is read);
2. every file is converted: ``load_original`` reads a ``.pth``/``.safetensors`` file into a flat
   ``{key: tensor}`` dict, the family's converter renames the keys with ordered, anchored regex
   ``Rule`` s (``rename``) and returns the keys it could not place, and ``check_leftovers`` requires
   those to be on the file's drop list;
3. every file is checked against the model without copying (shapes, and each file filling exactly
   what it provides: the rest must be on an allow-list), and together the files must fill every key
   outside the language model;
4. only then are the weights copied, file by file in order (a later file overrides an earlier one).

So a checkpoint whose layout differs from what we inferred fails before the model is touched, instead
of leaving randomly initialised weights behind. With a ``cache_dir`` (the run config's
``model.checkpoint_cache``) step 2 is stored as safetensors, so later runs skip the slow, pickle-based
read (``convert_with_cache``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

StateDict = dict[str, Tensor]
Converter = Callable[[Mapping[str, Tensor]], tuple[StateDict, list[str]]]


# -- reading original files ------------------------------------------------------------------


class InertStub(dict):
    """Stand-in for any class a checkpoint pickled that we do not want to import or run.

    A dict subclass because the objects that show up next to the weights (VideoChat2's EasyDict
    config, OmegaConf containers) are mappings; it accepts any constructor arguments and state and
    executes nothing.
    """

    def __init__(self, *args, **kwargs) -> None:  # arguments are ignored on purpose
        super().__init__()

    def __setstate__(self, state) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state


def _inert_class(module: str, name: str) -> type:
    # One subclass per pickled global keeps the original name visible when debugging.
    return type(name, (InertStub,), {"__module__": f"stub.{module}"})


# What a tensor checkpoint legitimately needs: torch's tensor/storage rebuild helpers, dtypes and
# builtin containers. Anything else is replaced by an inert stub instead of being imported.
_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): torch._utils._rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch._tensor", "_rebuild_from_type_v2"): torch._tensor._rebuild_from_type_v2,
    ("torch", "Size"): torch.Size,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("_codecs", "encode"): __import__("codecs").encode,  # protocol-2 pickles encode bytes this way
}
_ALLOWED_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray", "bool", "slice"}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for TRUSTED LOCAL checkpoints that ``weights_only=True`` rejects.

    It only resolves torch tensor/storage rebuild functions, dtypes and builtin containers; every
    other global (e.g. ``utils.easydict.EasyDict``) becomes an ``InertStub`` subclass, so loading
    neither imports foreign modules nor runs their code. It is a convenience for files you
    downloaded yourself, not a security boundary: prefer the safetensors cache afterwards.
    torch.load wraps this class and resolves storage types itself before calling ``find_class``.
    """

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return getattr(__import__("builtins"), name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        logger.info("checkpoint pickles %s.%s: replaced by an inert stub", module, name)
        return _inert_class(module, name)


def _restricted_pickle_module() -> types.ModuleType:
    # torch.load wants a module-like object exposing Unpickler/load (and a __name__ it inspects).
    module = types.ModuleType("infvideo_restricted_pickle")
    module.Unpickler = RestrictedUnpickler
    module.load = lambda file, **kw: RestrictedUnpickler(file, **kw).load()
    module.loads = lambda data, **kw: RestrictedUnpickler(__import__("io").BytesIO(data), **kw).load()
    return module


def _unwrap(obj) -> Mapping:
    """Training checkpoints nest the weights: ``{"model": sd, "optimizer": ..., "config": ...}``."""
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            return obj[wrapper]
    if not isinstance(obj, Mapping):
        raise TypeError(f"expected a state dict (mapping), got {type(obj).__name__}")
    return obj


def load_original(path: str | Path, published_at: str = "") -> StateDict:
    """Read an original checkpoint as a flat ``{key: tensor}`` dict on the CPU.

    ``published_at`` only feeds the error message when the file is missing. Non-tensor entries
    (configs, epoch counters) are discarded; ``{"model": …}`` / ``{"state_dict": …}`` wrappers are
    removed.
    """
    path = Path(path)
    if not path.is_file():
        where = f"it is published at {published_at}" if published_at else "no download location is recorded"
        raise FileNotFoundError(f"checkpoint file {str(path)!r} not found; {where}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # weights_only refuses any non-torch global (VideoChat2 pickles its EasyDict config).
        logger.warning("%s: safe load refused (%s); retrying with the restricted unpickler", path, str(error).splitlines()[0])
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
    return {key: value for key, value in _unwrap(obj).items() if isinstance(value, Tensor)}


# -- renaming ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """``pattern`` must match the WHOLE original key; ``replacement`` uses ``\\1``-style groups."""

    pattern: str
    replacement: str

    def apply(self, key: str) -> str | None:
        match = re.fullmatch(self.pattern, key)
        return match.expand(self.replacement) if match else None


def rename(state: Mapping[str, Tensor], rules: Sequence[Rule]) -> tuple[StateDict, list[str]]:
    """Apply the first matching rule to each key; keys no rule matches are returned, unchanged order."""
    renamed: StateDict = {}
    unmatched: list[str] = []
    for key, tensor in state.items():
        new_key = next((new for rule in rules if (new := rule.apply(key)) is not None), None)
        if new_key is None:
            unmatched.append(key)
            continue
        if new_key in renamed:
            raise ValueError(f"two checkpoint keys map to {new_key!r} (second: {key!r}); the rule table is ambiguous")
        renamed[new_key] = tensor
    return renamed, unmatched


def bert_qformer_rules(source_prefix: str, target_prefix: str, *, keep_text_path: bool = False) -> list[Rule]:
    """LAVIS/BERT Q-former names -> transformers ``Blip2QFormerModel`` / ``InstructBlipQFormerModel``.

    docs/reference-notes.md C2, rules 1–3, with anchored regexes instead of HF's blunt ``replace("self", …)``.
    ``keep_text_path=False`` (BLIP-2, Video-LLaMA): the embedding LayerNorm becomes the top-level
    ``layernorm`` and the text path (word/position embeddings, text FFN ``intermediate``/``output``)
    is left unmatched. ``keep_text_path=True`` (InstructBLIP, VideoChat2): the LayerNorm becomes
    ``embeddings.layernorm`` and the text path is kept.
    """
    src, dst = re.escape(source_prefix), target_prefix
    layer = rf"{src}encoder\.layer\.(\d+)\."
    param = r"(weight|bias)"
    rules = [
        Rule(
            rf"{src}embeddings\.LayerNorm\.{param}",
            f"{dst}embeddings.layernorm.\\1" if keep_text_path else f"{dst}layernorm.\\1",
        ),
        Rule(rf"{layer}(attention|crossattention)\.self\.(query|key|value)\.{param}", f"{dst}encoder.layer.\\1.\\2.attention.\\3.\\4"),
        Rule(rf"{layer}(attention|crossattention)\.output\.(dense|LayerNorm)\.{param}", f"{dst}encoder.layer.\\1.\\2.output.\\3.\\4"),
        Rule(rf"{layer}intermediate_query\.dense\.{param}", f"{dst}encoder.layer.\\1.intermediate_query.dense.\\2"),
        Rule(rf"{layer}output_query\.(dense|LayerNorm)\.{param}", f"{dst}encoder.layer.\\1.output_query.\\2.\\3"),
    ]
    if keep_text_path:
        rules += [
            Rule(rf"{src}embeddings\.(word_embeddings|position_embeddings)\.weight", f"{dst}embeddings.\\1.weight"),
            Rule(rf"{layer}intermediate\.dense\.{param}", f"{dst}encoder.layer.\\1.intermediate.dense.\\2"),
            Rule(rf"{layer}output\.(dense|LayerNorm)\.{param}", f"{dst}encoder.layer.\\1.output.\\2.\\3"),
        ]
    return rules


def integer_at_least(n: int) -> str:
    """Regex for decimal integers >= n (e.g. block indices beyond a model's depth)."""
    digits = str(n)
    options = [digits]
    for i, digit in enumerate(digits):
        if digit != "9":
            options.append(digits[:i] + f"[{int(digit) + 1}-9]" + r"\d" * (len(digits) - i - 1))
    options.append(rf"[1-9]\d{{{len(digits)},}}")
    return "(?:" + "|".join(options) + ")"


def not_matching(patterns: Iterable[str]) -> str:
    """Regex for every key that does NOT start with one of ``patterns`` (for ``expected_missing``)."""
    return "(?!" + "|".join(f"(?:{p})" for p in patterns) + ").*"


def _outside(keys: Iterable[str], patterns: Sequence[str]) -> list[str]:
    compiled = [re.compile(p) for p in patterns]
    return [key for key in keys if not any(c.fullmatch(key) for c in compiled)]


def _listing(keys: Sequence[str], limit: int = 30) -> str:
    shown = "\n  ".join(keys[:limit])
    more = f"\n  … and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"\n  {shown}{more}"


def check_leftovers(unmatched: Sequence[str], allowed_drops: Sequence[str], source: str) -> None:
    """Fail unless every original key a converter did not use is on the family's drop list."""
    surprising = _outside(unmatched, allowed_drops)
    if surprising:
        raise ValueError(f"{source}: {len(surprising)} checkpoint key(s) are neither converted nor on the drop list:{_listing(surprising)}")
    if unmatched:
        logger.info("%s: dropped %d key(s) on the allow-list", source, len(unmatched))


# -- loading into a module --------------------------------------------------------------------


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # module keys the state did not provide (allowed)
    unexpected: list[str] = field(default_factory=list)  # state keys the module has no slot for (dropped)

    def __str__(self) -> str:
        return f"loaded {len(self.loaded)}, allowed missing {len(self.missing)}, dropped {len(self.unexpected)}"


def load_converted(
    module: nn.Module,
    state: Mapping[str, Tensor],
    expected_missing: Sequence[str] = (),
    expected_unexpected: Sequence[str] = (),
    strict: bool = True,
) -> LoadReport:
    """Load already-renamed weights; every regex in the allow-lists must match a WHOLE key.

    Shapes are checked first and the allow-lists next, both before anything is copied, so a failed
    call leaves the module untouched. ``strict=False`` turns the allow-list failure into a warning.
    """
    target = module.state_dict()
    mismatched = [
        f"{key}: checkpoint {list(tensor.shape)} vs model {list(target[key].shape)}"
        for key, tensor in state.items()
        if key in target and tensor.shape != target[key].shape
    ]
    if mismatched:
        raise ValueError(f"shape mismatch for {len(mismatched)} key(s):{_listing(mismatched)}")
    missing = [key for key in target if key not in state]
    unexpected = [key for key in state if key not in target]
    bad_missing = _outside(missing, expected_missing)
    bad_unexpected = _outside(unexpected, expected_unexpected)
    if bad_missing or bad_unexpected:
        message = "checkpoint does not fit the module:"
        if bad_missing:
            message += f"\nmissing (not on the allow-list):{_listing(bad_missing)}"
        if bad_unexpected:
            message += f"\nunexpected (not on the allow-list):{_listing(bad_unexpected)}"
        if strict:
            raise ValueError(message)
        logger.warning(message)
    module.load_state_dict(dict(state), strict=False)
    return LoadReport(loaded=[key for key in state if key in target], missing=missing, unexpected=unexpected)


# -- safetensors cache ------------------------------------------------------------------------

CACHE_FORMAT = 1  # bump when converters change in a way old caches must not survive


@dataclass
class CachedConversion:
    state: StateDict
    dropped: list[str]
    reused: bool  # True when served from an existing cache file


def file_sha256(path: str | Path, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _describe(fn: Callable) -> str:
    # Stable identity of a converter (functools.partial included), stored in the sidecar.
    if isinstance(fn, partial):
        args = ", ".join([*map(repr, fn.args), *(f"{k}={v!r}" for k, v in sorted(fn.keywords.items()))])
        return f"{_describe(fn.func)}({args})"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _unshared(state: Mapping[str, Tensor]) -> StateDict:
    # safetensors refuses tensors that share storage (tied weights) or are non-contiguous views.
    seen: set[int] = set()
    out: StateDict = {}
    for key, tensor in state.items():
        tensor = tensor.detach().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        out[key] = tensor.clone() if pointer in seen else tensor
        seen.add(pointer)
    return out


def convert_with_cache(src_path: str | Path, cache_dir: str | Path, convert_fn: Converter, published_at: str = "") -> CachedConversion:
    """Convert ``src_path`` once into ``<cache_dir>/<name>.safetensors`` (+ ``<name>.json`` sidecar).

    The cache is reused only when the sidecar records the same source sha256, converter and cache
    format; otherwise the original is loaded, converted and the cache rewritten.
    """
    from safetensors.torch import load_file, save_file

    src_path = Path(src_path)
    if not src_path.is_file():
        load_original(src_path, published_at)  # raises the descriptive FileNotFoundError
    cache_dir = Path(cache_dir)
    weights_file = cache_dir / f"{src_path.stem}.safetensors"
    sidecar_file = cache_dir / f"{src_path.stem}.json"
    sha = file_sha256(src_path)
    identity = {"source_sha256": sha, "converter": _describe(convert_fn), "cache_format": CACHE_FORMAT}
    if weights_file.is_file() and sidecar_file.is_file():
        sidecar = json.loads(sidecar_file.read_text())
        if all(sidecar.get(k) == v for k, v in identity.items()):
            return CachedConversion(dict(load_file(str(weights_file), device="cpu")), sidecar["dropped"], reused=True)
        logger.info("%s: cache is stale (source or converter changed); rebuilding", weights_file)
    state, dropped = convert_fn(load_original(src_path, published_at))
    cache_dir.mkdir(parents=True, exist_ok=True)
    sidecar_file.unlink(missing_ok=True)  # the sidecar marks a complete cache: remove it while rewriting
    save_file(_unshared(state), str(weights_file))
    sidecar = {"source": str(src_path.resolve()), **identity, "kept": sorted(state), "dropped": list(dropped)}
    sidecar_file.write_text(json.dumps(sidecar, indent=1))
    return CachedConversion(state, list(dropped), reused=False)


# -- the expected files ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointFile:
    """One file a family expects; plain strings only, so ``vars(entry)`` prints well (``infvideo inspect``).
    Each family subclasses it with ``provides``: what the file fills, as regexes matched at the start of
    the model's keys."""

    role: str
    name: str
    holds: str
    published_at: str
    converter: str  # the family's converter for it; "" for an HF folder loaded by from_pretrained

    @property
    def provides(self) -> tuple[str, ...]:
        raise NotImplementedError(f"{type(self).__name__} does not say what {self.name} provides")

    @property
    def expected_missing(self) -> list[str]:
        """Loading this file alone into the full model leaves everything it does not provide missing."""
        return [not_matching(self.provides)]

    @property
    def is_folder(self) -> bool:
        return not self.converter


def find_role(files, role: str, family: str):
    """The entry of an expected-files table (entries with a ``role``) for ``role``."""
    for entry in files:
        if entry.role == role:
            return entry
    raise KeyError(f"no {family} checkpoint role {role!r}; known: {[entry.role for entry in files]}")


def _missing_folder(path: Path, what: str, published_at: str) -> FileNotFoundError:
    return FileNotFoundError(f"{what} folder {str(path)!r} not found or has no config.json; it is published at {published_at}")


def load_hf_folder(model_class, path, what: str, published_at: str, dtype):
    """An LLM from a local HF-format folder (never downloads); a missing folder names it and its source."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise _missing_folder(path, what, published_at)
    return model_class.from_pretrained(str(path), local_files_only=True, dtype=dtype)


def checkpoint_paths(checkpoints: Mapping[str, str], files: Sequence[CheckpointFile]) -> dict[str, Path]:
    """Every expected file's path from the config's ``checkpoints`` (role -> path), all checked present
    before anything slow is read: a role the config does not name is a ``ValueError``, a missing file or
    HF folder a ``FileNotFoundError`` naming it and where it is published."""
    paths = {}
    for spec in files:
        if not checkpoints.get(spec.role):
            raise ValueError(
                f"the config names no checkpoint for '{spec.role}': expected {spec.name} ({spec.holds}), published at {spec.published_at}"
            )
        paths[spec.role] = Path(checkpoints[spec.role]).expanduser()
    for spec in files:
        path = paths[spec.role]
        if spec.is_folder and not (path / "config.json").is_file():
            raise _missing_folder(path, spec.name, spec.published_at)
        if not spec.is_folder and not path.is_file():
            load_original(path, spec.published_at)  # raises the descriptive FileNotFoundError
    return paths


# -- the procedure ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileConversion:
    """How one original file becomes model weights."""

    spec: CheckpointFile
    path: Path
    convert: Converter  # original state -> (our keys, original keys it did not use)
    drops: Sequence[str]  # the unused keys it may leave (regexes)


def convert_files(conversions: Sequence[FileConversion], cache_dir: str | Path | None = None) -> dict[str, StateDict]:
    """Steps 1–2 of the procedure for every file: present, converted, leftovers on the drop lists."""
    for conversion in conversions:  # fail before any slow read when a file is absent
        if not Path(conversion.path).is_file():
            load_original(conversion.path, conversion.spec.published_at)
    states = {}
    for conversion in conversions:
        spec = conversion.spec
        if cache_dir is None:
            state, unmatched = conversion.convert(load_original(conversion.path, spec.published_at))
        else:
            cached = convert_with_cache(conversion.path, cache_dir, conversion.convert, spec.published_at)
            state, unmatched = cached.state, cached.dropped
        check_leftovers(unmatched, conversion.drops, spec.name)
        states[spec.role] = state
    return states


class _Layout(nn.Module):
    """A module's state-dict shapes on the meta device, for a dry run of ``load_converted``: its shape
    and allow-list checks run, ``load_state_dict`` copies nothing."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self._shapes = {key: torch.empty(t.shape, dtype=t.dtype, device="meta") for key, t in module.state_dict().items()}

    def state_dict(self, *args, **kwargs) -> dict[str, Tensor]:
        return dict(self._shapes)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return None


def copy_files(
    model: nn.Module, states: Mapping[str, StateDict], files: Sequence[CheckpointFile], outside: str = "language_model."
) -> dict[str, LoadReport]:
    """Steps 3–4: every converted file fits ``model`` (a dry run: shapes, allow-lists), together they fill
    every key not starting with ``outside`` (the LLM comes from its own folder), then the weights are
    copied in the order of ``states``. Returns one report per file."""
    specs = {spec.role: spec for spec in files}
    layout = _Layout(model)
    for role, state in states.items():
        load_converted(layout, state, expected_missing=specs[role].expected_missing)
    never = [key for key in model.state_dict() if not key.startswith(outside) and not any(key in state for state in states.values())]
    if never:
        raise ValueError(f"no checkpoint file provides {len(never)} key(s) of the model, e.g. {never[:10]}")
    return {role: load_converted(model, state, expected_missing=specs[role].expected_missing) for role, state in states.items()}


def load_files(model: nn.Module, conversions: Sequence[FileConversion], cache_dir: str | Path | None = None) -> dict[str, LoadReport]:
    """The whole procedure for files that hold nothing but weights of ``model`` (``convert_files`` then
    ``copy_files``); a family with more in its files (VideoChat2's LoRA) runs the two steps itself."""
    states = convert_files(conversions, cache_dir)
    return copy_files(model, states, [conversion.spec for conversion in conversions])

"""The run configs, sweep grids and memory-bench grids that ship with the package.

``--config video_llama/nextqa`` (or ``video_llama/nextqa.yaml``) names a file here, so commands work
the same from a clone and from an installed wheel; a path to any YAML file works too, and wins when
it exists. The old spelling ``eval_configs/<name>`` (the folder's place before it became package
data) still resolves here.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from infvideo.errors import UserError

LEGACY_PREFIX = "eval_configs/"


def shipped(name: str) -> Path | None:
    """The shipped file ``name`` stands for (with or without ``.yaml``), or None."""
    name = name.removeprefix(LEGACY_PREFIX)
    root = files(__name__)
    for candidate in (name, f"{name}.yaml"):
        resource = root.joinpath(candidate)
        if resource.is_file():
            return Path(str(resource))
    return None


def resolve(name: str | Path, what: str = "config file") -> Path:
    """A path that exists, else the shipped file of that name; a ``UserError`` naming both otherwise."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if (found := shipped(str(name))) is not None:
        return found
    raise UserError(f"{what} {name} does not exist (neither as a path nor among the shipped configs: `infvideo configs` lists them)")


def listing() -> list[str]:
    """Every shipped YAML file, by the name ``resolve`` takes."""
    root = Path(str(files(__name__)))
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))

"""Hydra at the command-line edge, shared by the commands that compose the config tree (``train``, ``eval``):
where the tree lives, the ``motions=PATH`` shorthand, and the composed config as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hoi_sim.errors import HoiSimError, InputError

CFG_DIR = Path(__file__).resolve().parents[1] / "cfg"


def _register_resolvers() -> None:
    """``${hoi_label:X}``: X, or ``all`` when X is null/empty (multirun folder names)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("hoi_label"):
        OmegaConf.register_new_resolver("hoi_label", lambda x: str(x) if x not in (None, "") else "all")


_register_resolvers()
_PATH_KEYS = {"motions": "motions.path"}


def _quote(value: str) -> str:
    """A Hydra-grammar quoted string (paths may hold characters the override grammar reserves)."""
    if "'" in value:
        if '"' in value:
            raise HoiSimError(f"cannot pass a value holding both quote characters: {value}")
        return f'"{value}"'
    return f"'{value}'"


def normalize_overrides(overrides: list[str]) -> list[str]:
    """``motions=PATH`` → ``motions.path='PATH'`` unless PATH names a file of the ``motions`` config group."""
    out = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and key in _PATH_KEYS and not (CFG_DIR / key / f"{value}.yaml").is_file():
            out.append(f"{_PATH_KEYS[key]}={_quote(value)}")
        elif sep and key == "motions.path" and value and value[0] not in "'\"":
            out.append(f"motions.path={_quote(value)}")
        else:
            out.append(o)
    return out


def plain_config(cfg: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A resolved Hydra config as plain data, without the keys in ``drop``."""
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    for k in drop:
        data.pop(k, None)
    return data


def _config_error(exc: BaseException) -> str:
    """One line for a Hydra/OmegaConf composition error: Hydra's own first line, plus the schema's reason and the
    full key when OmegaConf gives them (e.g. ``motions.ground: Value 'maybe' is not a valid bool``)."""
    def key_of(text: str) -> str:
        return next((x.split(":", 1)[1].strip() for x in text.splitlines() if x.strip().startswith("full_key:")), "")

    line = (str(exc).strip().splitlines() or ["no details"])[0]
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        key = key_of(str(cause))
        line += f" ({key + ': ' if key else ''}{str(cause).strip().splitlines()[0]})"
    elif key_of(str(exc)):
        line += f" (at {key_of(str(exc))})"
    return line


def compose(overrides: list[str]) -> dict:
    """The composed, resolved config (Hydra compose API) as plain data."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from hoi_sim.commands.config_schema import register_schemas

    register_schemas()
    try:
        with initialize_config_dir(config_dir=str(CFG_DIR), version_base="1.3"):
            cfg = hydra_compose("config", overrides=normalize_overrides(overrides))
        return plain_config(cfg)  # resolving the interpolations type-checks what they point to
    except (HydraException, OmegaConfBaseException) as exc:
        raise InputError(f"invalid overrides: {_config_error(exc)}") from None

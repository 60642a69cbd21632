"""The config tree's one source (``hoi_sim.commands.config_schema``): each dataclass group is a Hydra structured
config, its yaml files are presets that compose from it and never restate a value they inherit, unknown keys and
wrongly typed values are refused at composition naming the key, and every schema field is read by the package."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hoi_sim.commands.config_schema import SCHEMA, schemas
from hoi_sim.commands.hydra_config import CFG_DIR, compose
from hoi_sim.errors import InputError

PACKAGE = Path(__file__).resolve().parents[2] / "hoi_sim"
PRESETS = [(g, p.stem) for g in schemas() for p in sorted((CFG_DIR / g).glob("*.yaml"))]


def _body(path: Path) -> tuple[dict[str, Any], list[Any], bool]:
    """(keys the file sets, its defaults list, whether it is in Hydra's global package)."""
    text = path.read_text()
    data = yaml.safe_load(text) or {}
    return data, data.pop("defaults", []), "@package _global_" in text


def _leaves(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _get(d: dict[str, Any], dotted: str) -> Any:
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            return KeyError
        d = d[k]
    return d


@pytest.mark.parametrize(("group", "name"), PRESETS)
def test_preset_composes_from_its_schema(group: str, name: str) -> None:
    from hoi_sim.config_mapping import from_mapping

    data, defaults, global_pkg = _body(CFG_DIR / group / f"{name}.yaml")
    parents = [d for d in defaults if d != "_self_"]
    assert parents, f"cfg/{group}/{name}.yaml: its defaults list names no schema or parent preset"
    cfg = compose([f"{group}={name}"])
    from_mapping(schemas()[group], cfg[group], group)  # builds the typed config (ranges checked)


@pytest.mark.parametrize(("group", "name"), PRESETS)
def test_preset_restates_nothing_it_inherits(group: str, name: str) -> None:
    data, defaults, global_pkg = _body(CFG_DIR / group / f"{name}.yaml")
    parent = next(str(d) for d in defaults if d != "_self_")
    parent = parent.removeprefix(f"/{group}/").split("@")[0]
    own = data.get(group, {}) if global_pkg else data
    base = compose([f"{group}={parent}"])[group]
    same = {k: v for k, v in _leaves(own).items() if _get(base, k) == v}
    assert not same, f"cfg/{group}/{name}.yaml restates values of {parent}: {same}"


def test_unknown_key_and_wrong_type_refused_at_composition() -> None:
    with pytest.raises(InputError, match="env.bogus"):
        compose(["env.bogus=1"])
    with pytest.raises(InputError, match="Key 'bogus' not in 'RootConfig'"):
        compose(["bogus=1"])  # the top level has its schema too (RunSettings + checkpoint + the groups)
    with pytest.raises(InputError, match="num_envs: Value 'abc'"):
        compose(["num_envs=abc"])
    from hoi_sim.envs.config import EnvCfg

    forced = compose(["+env.action.bogus=1"])["env"]  # Hydra's `+` adds past the schema ...
    with pytest.raises(InputError, match="bogus"):
        EnvCfg.from_dict(forced)  # ... and the typed config refuses it when built
    with pytest.raises(InputError, match="train.horizon_length"):
        compose(["train.horizon_length=abc"])
    with pytest.raises(InputError, match="motions.ground"):
        compose(["motions.ground=maybe"])
    assert compose(["env=" + SCHEMA])["env"]["backend_kwargs"] == {}  # the schema node itself composes


def _fields(cls: type, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted name, field name) of every field, nested dataclasses included."""
    out = []
    for f in dataclasses.fields(cls):
        out.append((prefix + f.name, f.name))
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            out += _fields(type(default), f"{prefix}{f.name}.")
    return out


@pytest.mark.parametrize("group", sorted(schemas()))
def test_every_schema_field_is_read(group: str) -> None:
    """Each field is read somewhere in the package (attribute access or a key lookup), outside its own
    declaration line: a field nothing reads is configuration that does nothing."""
    code = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    unread = []
    for dotted, name in _fields(schemas()[group]):
        reads = re.findall(rf"\.{name}\b|\[[\"']{name}[\"']\]|get\([\"']{name}[\"']|\b{name}=", code)
        if not reads:
            unread.append(dotted)
    assert not unread, f"{group}: fields nothing reads: {unread}"


def test_env_keys_held_at_the_top_level() -> None:
    """The env group's num_envs, seed, reward and backend are the top-level keys (one knob each): no env preset
    sets them, the composed env group follows the top level, and an env.<key> set apart is refused, not ignored."""
    from hoi_sim.train.job import ENV_KEYS_HELD_ABOVE, check_env_keys, job_from_config

    for path in sorted((CFG_DIR / "env").glob("*.yaml")):
        data, _, _ = _body(path)
        assert not set(data) & set(ENV_KEYS_HELD_ABOVE), f"{path.name} sets {set(data) & set(ENV_KEYS_HELD_ABOVE)}"
    cfg = compose(["num_envs=8", "seed=3", "reward=tr", "sim=mjwarp", "env=intermimic"])
    assert {k: cfg["env"][k] for k in ENV_KEYS_HELD_ABOVE} == {"num_envs": 8, "seed": 3, "reward": "tr",
                                                                "backend": "mjwarp"}
    check_env_keys(job_from_config({**cfg, "motions": {"path": "x.npz"}}))
    assert cfg["sim"]["settings"]["num_envs"] == 8
    for override, message in (("env.num_envs=4", "env.num_envs=4 is not read.*set num_envs=4"),
                              ("env.backend=fake", "env.backend='fake' is not read.*sim.backend"),
                              ("sim.settings.num_envs=16", "sim.settings.num_envs=16 is not read.*set num_envs=16")):
        with pytest.raises(InputError, match=message):
            check_env_keys(job_from_config({**compose([override]), "motions": {"path": "x.npz"}}))


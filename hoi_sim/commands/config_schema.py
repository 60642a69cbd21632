"""The typed schema of the Hydra config tree: each dataclass that library code reads is registered with Hydra's
``ConfigStore`` as the ``schema`` node of its group, and the yaml files of that group are presets that start from it
(``defaults: [schema, _self_]``) and hold only the values that differ from it.

So every default is written once (in the dataclass, with its docstring), and Hydra refuses at composition an
unknown key (``env.bogus=1``) or a value of the wrong type (``train.horizon_length=abc``), naming the key.

| group | dataclass |
|---|---|
| ``env`` | :class:`hoi_sim.envs.config.EnvCfg` |
| ``train`` | :class:`hoi_sim.train.config.PPOConfig` |
| ``motions`` | :class:`hoi_sim.train.job.MotionsConfig` |
| ``eval`` | :class:`hoi_sim.eval.evaluate.EvalConfig` |
| (top level, ``root_schema``) | :class:`hoi_sim.train.job.RunSettings` + ``checkpoint`` |

``sim`` (a backend file plus Table 7, ``hoi_sim.sim.config``), ``reward`` and ``termination`` (term sets read by
their own loaders, which refuse unknown terms and keys) are not dataclass-shaped and stay plain yaml.
"""

from __future__ import annotations

SCHEMA = "schema"
"""Name of each group's schema node: the first entry of a preset's defaults list."""
ROOT_SCHEMA = "root_schema"
"""Name of the top level's schema node: the first entry of ``cfg/config.yaml``'s defaults list."""
GROUPS = ("sim", "env", "reward", "train", "eval", "motions")


def schemas() -> dict[str, type]:
    """Config group → the dataclass that is its schema."""
    from hoi_sim.envs.config import EnvCfg
    from hoi_sim.eval.evaluate import EvalConfig
    from hoi_sim.train.config import PPOConfig
    from hoi_sim.train.job import MotionsConfig

    return {"env": EnvCfg, "train": PPOConfig, "motions": MotionsConfig, "eval": EvalConfig}


def root_schema() -> type:
    """The top level: :class:`~hoi_sim.train.job.RunSettings` (``num_envs``, ``seed``, ``out``), ``checkpoint``
    (``hoi-sim eval``: checkpoint(s), comma-separated) and one untyped slot per config group (each group brings
    its own schema)."""
    import dataclasses
    from typing import Any

    from hoi_sim.train.job import RunSettings

    own = [(f.name, f.type, dataclasses.field(default=f.default, metadata=f.metadata))
           for f in dataclasses.fields(RunSettings)]
    return dataclasses.make_dataclass(
        "RootConfig", [*own, ("checkpoint", "str | None", dataclasses.field(default=None))]
        + [(g, Any, dataclasses.field(default=None)) for g in GROUPS])


def register_schemas() -> None:
    """Store every group's schema and the root schema in Hydra's ``ConfigStore`` (idempotent; before any
    composition)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for group, cls in schemas().items():
        store.store(group=group, name=SCHEMA, node=cls)
    store.store(name=ROOT_SCHEMA, node=root_schema())

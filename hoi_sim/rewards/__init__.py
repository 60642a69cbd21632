"""Reward kernels (pure tensor functions) and the named reward sets (tr, tr_lr, tr_lr_cr, intermimic)."""

from hoi_sim.rewards.sets import (
    NAMED_SETS,
    RewardSet,
    RewardSetCfg,
    RewardTermCfg,
    load_reward_set,
    reward_set_from_dict,
)
from hoi_sim.rewards.terms import TERMS, RewardContext

__all__ = ["NAMED_SETS", "TERMS", "RewardContext", "RewardSet", "RewardSetCfg", "RewardTermCfg",
           "load_reward_set", "reward_set_from_dict"]

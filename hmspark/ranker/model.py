"""The LightGBM lambdarank model: fit on the driver, saved as text with what it was built from.

A saved model is a folder with ``model.txt`` (LightGBM's text format) and ``meta.json``: the
feature list in model order, the training and validation cutoffs, the Delta table versions read,
the parameters, the validation score and the feature importances — enough to reproduce it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from hmspark.config import TrainSettings
from hmspark.ranker.dataset import group_sizes, sort_groups

log = logging.getLogger("hmspark.ranker")


@dataclass
class TrainedModel:
    model_string: str
    features: list[str]
    meta: dict = field(default_factory=dict)

    def booster(self) -> lgb.Booster:
        return lgb.Booster(model_str=self.model_string)

    def importances(self) -> dict[str, float]:
        return self.meta.get("importance_gain", {})

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.txt").write_text(self.model_string)
        (folder / "meta.json").write_text(json.dumps({**self.meta, "features": self.features},
                                                     indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "TrainedModel":
        folder = Path(folder)
        if not (folder / "model.txt").is_file():
            raise FileNotFoundError(f"no model.txt in {folder}; run the train job first")
        meta = json.loads((folder / "meta.json").read_text())
        return cls((folder / "model.txt").read_text(), list(meta["features"]), meta)


def lgb_params(cfg: TrainSettings) -> dict:
    return dict(objective="lambdarank", metric="map",
                n_estimators=cfg.num_boost_round, learning_rate=cfg.learning_rate,
                num_leaves=cfg.num_leaves, min_child_samples=cfg.min_child_samples,
                colsample_bytree=cfg.feature_fraction, subsample=cfg.bagging_fraction,
                subsample_freq=1 if cfg.bagging_fraction < 1 else 0,
                random_state=cfg.seed, n_jobs=cfg.threads, verbosity=-1,
                lambdarank_truncation_level=20)


def _matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The features as one C-ordered float32 matrix (what LightGBM takes without a copy), filled
    column by column so that no intermediate frame of all the features is made."""
    out = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        out[:, j] = frame[name].to_numpy(dtype=np.float32, na_value=np.nan)
    return out


def fit_ranker(train: pd.DataFrame, valid: pd.DataFrame | None, features: list[str],
               cfg: TrainSettings) -> TrainedModel:
    """Fit lambdarank on ``train`` (early stopping on ``valid`` when given, then, with
    ``refit_on_all``, refit on train + valid for the best number of rounds)."""
    train = sort_groups(train)
    params = lgb_params(cfg)
    model = lgb.LGBMRanker(**params)
    fit_args: dict = {}
    best_rounds = cfg.num_boost_round
    valid_map = None
    x_train, y_train, g_train = _matrix(train, features), train["label"].to_numpy(), group_sizes(train)
    if valid is not None and not valid.empty and valid["label"].sum() > 0:
        valid = sort_groups(valid)
        x_valid, y_valid, g_valid = _matrix(valid, features), valid["label"].to_numpy(), \
            group_sizes(valid)
        fit_args = dict(eval_X=(x_valid,), eval_y=(y_valid,), eval_group=[g_valid], eval_at=[12],
                        callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)])
    model.fit(x_train, y_train, group=g_train, **fit_args)
    if fit_args:
        best_rounds = max(1, int(model.best_iteration_ or cfg.num_boost_round))
        valid_map = float(model.best_score_["valid_0"]["map@12"])
        if cfg.refit_on_all:
            # Train then valid, each sorted: the groups stay contiguous (a group split between
            # the two would be two queries).  Matrices, not frames, are concatenated.
            del fit_args, model
            x_both = np.concatenate([x_train, x_valid])
            del x_train, x_valid
            model = lgb.LGBMRanker(**{**params, "n_estimators": best_rounds})
            model.fit(x_both, np.concatenate([y_train, y_valid]),
                      group=np.concatenate([g_train, g_valid]))
            del x_both
    booster = model.booster_
    gain = booster.feature_importance(importance_type="gain", iteration=None)
    importance = dict(sorted(zip(features, map(float, gain)), key=lambda kv: -kv[1]))
    meta = dict(params={k: v for k, v in params.items()}, best_rounds=best_rounds,
                valid_candidate_map_at_12=valid_map, train_rows=int(len(train)),
                train_groups=int(train.groupby(["cutoff", "customer_key"]).ngroups),
                train_positives=int(train["label"].sum()), importance_gain=importance)
    return TrainedModel(booster.model_to_string(num_iteration=-1), list(features), meta)


def predict(model: TrainedModel, frame: pd.DataFrame) -> np.ndarray:
    return model.booster().predict(_matrix(frame, model.features))

"""Saving and loading :class:`~cgkit.cgmp.ranker.CGMPRanker`: state_dicts + JSON, no pickle.

The file is a ``torch.save`` of ``{"metadata": <JSON text>, "states": {M: state_dict}}``
holding one network snapshot per recorded resolution ``M``; it is read back with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from cgkit._version import __version__
from cgkit.cgmp.loss import LossConfig
from cgkit.cgmp.model import CGMPConfig

FORMAT = "cgkit.cgmp.CGMPRanker"
_PARAMS = (
    "hidden",
    "layers",
    "cutoff",
    "warmup",
    "epochs_per_step",
    "min_resolution",
    "batch_size",
    "learning_rate",
    "gate_learning_rate",
    "validation_fraction",
    "n_radial",
    "n_spherical",
    "seed",
)


def ranker_metadata(ranker) -> dict:
    """JSON-able description of a fitted ranker (hyperparameters and learned state)."""
    params = {key: getattr(ranker, key) for key in _PARAMS}
    params["loss"] = (ranker.loss or LossConfig()).to_dict()
    return {
        "format": FORMAT,
        "cgkit_version": __version__,
        "params": params,
        "target": ranker.target_,
        "model_config": ranker.config_.to_dict(),
        "numbers": ranker.numbers_.tolist(),
        "masses": None if ranker.masses_ is None else ranker.masses_.tolist(),
        "atom_indices": ranker.atom_indices_.tolist(),
        "mean": ranker.mean_,
        "scale": ranker.scale_,
        "ranking": ranker.ranking_.tolist(),
        "kept_sets": {str(m): v.tolist() for m, v in ranker.kept_sets_.items()},
        "resolution_curve": {str(m): v for m, v in ranker.resolution_curve_.items()},
        "gate_history": {str(m): v.tolist() for m, v in ranker.gate_history_.items()},
        "history": ranker.history_,
        "fit_time": ranker.fit_time_,
    }


def save_ranker(ranker, path) -> None:
    """Write ``ranker`` to ``path`` (``.pt``)."""
    states = {str(m): s for m, s in ranker.model_states_.items()}
    torch.save({"metadata": json.dumps(ranker_metadata(ranker)), "states": states}, Path(path))


def load_ranker(path):
    """Read a ranker written by :func:`save_ranker`."""
    from cgkit.cgmp.ranker import CGMPRanker

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    payload = torch.load(path, weights_only=True)
    try:
        meta = json.loads(payload["metadata"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a saved CGMPRanker") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a saved CGMPRanker (format {meta.get('format')!r})")
    params = dict(meta["params"])
    params["loss"] = LossConfig(**params["loss"])
    ranker = CGMPRanker(**params)
    ranker.config_ = CGMPConfig.from_dict(meta["model_config"])
    ranker.target_ = meta["target"]
    ranker.numbers_ = np.array(meta["numbers"], dtype=int)
    ranker.masses_ = None if meta["masses"] is None else np.array(meta["masses"])
    ranker.n_molecule_atoms_ = len(ranker.numbers_)
    ranker.atom_indices_ = np.array(meta["atom_indices"], dtype=int)
    ranker.mean_, ranker.scale_ = meta["mean"], meta["scale"]
    ranker.ranking_ = np.array(meta["ranking"], dtype=int)
    ranker.kept_sets_ = {int(m): np.array(v, dtype=int) for m, v in meta["kept_sets"].items()}
    ranker.resolution_curve_ = {int(m): v for m, v in meta["resolution_curve"].items()}
    ranker.gate_history_ = {int(m): np.array(v) for m, v in meta["gate_history"].items()}
    ranker.history_ = meta["history"]
    ranker.fit_time_ = meta["fit_time"]
    ranker.model_states_ = {int(m): s for m, s in payload["states"].items()}
    ranker._models = {}
    return ranker

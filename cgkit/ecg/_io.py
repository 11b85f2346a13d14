"""Input checks and the model file format shared by the ECG estimators.

A model file is one ``torch.save`` of a plain dict::

    {"format": "cgkit.ecg.<kind>", "metadata": <JSON text: config, standardizers,
     cgkit version>, "state_dict": {name: Tensor}}

read back with ``torch.load(..., weights_only=True)``; nothing is pickled and the JSON is
parsed, never evaluated.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import torch

from cgkit._version import __version__


def check_bead_positions(bead_positions, n_beads: int | None = None) -> np.ndarray:
    """Return ``bead_positions`` as float (F, M, 3), naming the bad frame on non-finite input."""
    positions = np.asarray(bead_positions, dtype=float)
    if positions.ndim == 2:
        positions = positions[None]
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(
            f"bead_positions must have shape (F, M, 3) or (M, 3) in Å, got {positions.shape}"
        )
    if n_beads is not None and positions.shape[1] != n_beads:
        raise ValueError(
            f"model was trained on {n_beads} beads, got bead_positions with {positions.shape[1]}"
        )
    bad = ~np.isfinite(positions).all(axis=(1, 2))
    if bad.any():
        frame = int(np.flatnonzero(bad)[0])
        bead = int(np.flatnonzero(~np.isfinite(positions[frame]).all(axis=1))[0])
        raise ValueError(f"non-finite bead position in frame {frame}, bead {bead}")
    return positions


def check_targets(y, n_frames: int) -> np.ndarray:
    """Return ``y`` as float (F,), checking length and finiteness (naming the frame)."""
    targets = np.asarray(y, dtype=float).reshape(-1)
    if len(targets) != n_frames:
        raise ValueError(f"got {n_frames} frames but {len(targets)} target values")
    bad = np.flatnonzero(~np.isfinite(targets))
    if len(bad):
        raise ValueError(f"non-finite target value in frame {int(bad[0])}")
    return targets


def save_model(path, kind: str, metadata: dict, state_dict: dict) -> None:
    """Write ``state_dict`` (tensors only) and JSON ``metadata`` to ``path``."""
    metadata = dict(metadata, cgkit_version=__version__)
    payload = {
        "format": f"cgkit.ecg.{kind}",
        "metadata": json.dumps(metadata),
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
    }
    torch.save(payload, Path(path))


def load_model(path, kind: str) -> tuple[dict, dict]:
    """Read a file written by :func:`save_model`; refuse anything else with a clear error.

    Returns
    -------
    metadata : dict
    state_dict : dict of str -> Tensor
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as exc:
        raise ValueError(
            f"{path}: not a cgkit ECG model file or it contains non-tensor objects ({exc})"
        ) from None
    expected = f"cgkit.ecg.{kind}"
    if not isinstance(payload, dict) or payload.get("format") != expected:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: expected a {expected!r} model file, found {found!r}")
    try:
        metadata = json.loads(payload["metadata"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: model metadata is missing or not valid JSON ({exc})") from None
    state_dict = payload.get("state_dict")
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: model file has no state_dict")
    for name, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{path}: state_dict entry {name!r} is a {type(value).__name__}, not a tensor"
            )
    return metadata, state_dict


def load_state_strict(module: torch.nn.Module, state_dict: dict, path) -> None:
    """``module.load_state_dict(strict=True)`` with an error naming the file and the mismatch."""
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: model state does not match its config: {exc}") from None

"""Labelling in worker processes: one labeler instance per process, failures per frame.

Used by :class:`cgkit.data.builder.DatasetBuilder` with any ``concurrent.futures``
executor: a process pool calls :func:`init_worker` once per process; executors without
an initializer (dask) build the labeler on the first :func:`label_chunk` in each process.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from cgkit.qc.base import RetryPolicy, label_with_retry, limit_threads

_WORKER_LABELERS: dict[str, Any] = {}


def init_worker(labeler_blobs: Mapping[str, bytes], threads: int) -> None:
    """Process-pool initializer: pin threads, build each labeler once in this process."""
    limit_threads(threads)
    for token, blob in labeler_blobs.items():
        _WORKER_LABELERS[token] = pickle.loads(blob)


def label_chunk(token: str, blob: bytes, numbers, positions, policy: RetryPolicy) -> list:
    """Label frames ``positions`` (k, N, 3); returns ``[(values | None, reason), ...]``."""
    from ase import Atoms

    labeler = _WORKER_LABELERS.get(token)
    if labeler is None:  # executors without initializer (dask): build once per process
        labeler = _WORKER_LABELERS[token] = pickle.loads(blob)
    out = []
    for frame_positions in positions:
        outcome = label_with_retry(
            labeler, Atoms(numbers=numbers, positions=frame_positions), policy
        )
        out.append((outcome.values, outcome.reason))
    return out

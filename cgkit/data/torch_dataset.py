"""``torch.utils.data.Dataset`` over a store system (optionally through a CG map).

Imports torch; :mod:`cgkit.data` itself does not import this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


class StoreDataset(torch.utils.data.Dataset):
    """Frames of a store as dicts of tensors, read in batches.

    Each item is ``{"index": frame, "positions": (N, 3) Å, <label>: value}``; with
    ``map_name`` the coordinates are ``"bead_positions"`` (M, 3) Å computed through the
    stored map. Only frames whose requested labels are all ok are included (in store
    order). The store is opened lazily in each process (DataLoader workers, after fork)
    and read-only, so it can be used while nothing else writes it.

    Parameters
    ----------
    path : str or Path
        ``*.h5`` or ``*.zarr`` store.
    labels : sequence of str
        Label names to return.
    system : str, optional
        System name; default the store's only system (or the one owning ``map_name``).
    map_name : str, optional
        Return bead positions through this stored CG map.
    frames : sequence of int, optional
        Restrict to these frames (e.g. a train split); frames failing the label filter
        are dropped.
    dtype : torch.dtype
        Floating dtype of the returned tensors.

    Notes
    -----
    DataLoader uses :meth:`__getitems__` to read a whole batch with one indexed read per
    array instead of one read per frame.
    """

    def __init__(
        self,
        path: str | Path,
        labels: Sequence[str] = (),
        system: str | None = None,
        map_name: str | None = None,
        frames: Sequence[int] | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        self.path = Path(path)
        self.labels = tuple(labels)
        self.map_name = map_name
        self.dtype = dtype
        self._store = None
        self._pid = None
        view = self._view(system)
        system_obj = view.system if map_name else view
        self.system = system_obj.name
        ok = system_obj.ok_frames(*self.labels)
        if frames is not None:
            ok = np.intersect1d(ok, system_obj._indices(frames))
        self.frames = ok
        self._close()

    def _view(self, system: str | None = None):
        from cgkit.data.store import open as open_store

        if self._store is None or self._pid != os.getpid():
            self._store = open_store(self.path, "r")
            self._pid = os.getpid()
        system = system or getattr(self, "system", None)
        if self.map_name:
            return self._store.cg(self.map_name, system=system)
        if system is None:
            names = self._store.system_names
            if len(names) != 1:
                raise ValueError(f"{self.path}: has systems {names}; pass system=...")
            system = names[0]
        return self._store[system]

    def _close(self) -> None:
        if self._store is not None and self._pid == os.getpid():
            self._store.close()
        self._store = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_store"] = None
        state["_pid"] = None
        return state

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, items: Sequence[int]) -> dict[str, torch.Tensor]:
        """Stacked tensors of dataset items ``items`` (one batched read per array)."""
        idx = self.frames[np.asarray(items, dtype=np.int64)]
        view = self._view()
        key = "bead_positions" if self.map_name else "positions"
        coords = view.bead_positions(idx) if self.map_name else view.read_positions(idx)
        out = {
            "index": torch.as_tensor(idx),
            key: torch.as_tensor(coords, dtype=self.dtype),
        }
        for name in self.labels:
            out[name] = torch.as_tensor(view.read_labels(name, idx), dtype=self.dtype)
        return out

    def __getitems__(self, items: Sequence[int]) -> list[dict[str, torch.Tensor]]:
        batch = self.batch(items)
        return [{key: value[k] for key, value in batch.items()} for k in range(len(items))]

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([item])[0]

"""Labels of a system: named per-frame properties with units and per-frame status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cgkit.data import schema
from cgkit.data._backend import Group, frame_chunks


@dataclass(frozen=True)
class LabelInfo:
    """Metadata of one label: its unit, how it was computed and its per-frame shape."""

    name: str
    unit: str
    method: str
    program: str
    program_version: str
    shape: tuple[int, ...]
    dtype: str
    per_atom: bool


class LabelsMixin:
    """Label methods of :class:`cgkit.data.System` (kept apart to keep modules small)."""

    group: Group
    n_atoms: int
    _n_frames: int

    def _labels_group(self, create: bool = False) -> Group | None:
        if "labels" in self.group:
            return self.group.group("labels")
        return self.group.create_group("labels") if create else None

    def _label_group(self, name: str) -> Group:
        labels = self._labels_group()
        if labels is None or name not in labels:
            raise KeyError(f"{self.where}: no label {name!r} (has {sorted(self.labels)})")
        return labels.group(name)

    @property
    def labels(self) -> dict[str, LabelInfo]:
        """Label metadata by name."""
        cached = getattr(self, "_labels_cache", None)
        if cached is None:
            cached = self._labels_cache = self._read_label_infos()
        return dict(cached)

    def _read_label_infos(self) -> dict[str, LabelInfo]:
        labels = self._labels_group()
        if labels is None:
            return {}
        out = {}
        for name in labels.group_names():
            group = labels.group(name)
            attrs = group.attrs()
            values = group.array("values")
            out[name] = LabelInfo(
                name=name,
                unit=attrs["unit"],
                method=attrs.get("method", ""),
                program=attrs.get("program", ""),
                program_version=attrs.get("program_version", ""),
                shape=values.shape[1:],
                dtype=str(values.dtype),
                per_atom=bool(attrs.get("per_atom", False)),
            )
        return out

    def add_label(
        self,
        name: str,
        unit: str | None = None,
        method: str = "",
        program: str = "",
        program_version: str = "",
        shape: tuple[int, ...] = (),
        dtype="float64",
        per_atom: bool | None = None,
    ) -> LabelInfo:
        """Declare label ``name``; every committed frame starts pending.

        Parameters
        ----------
        name : str
            Label name, e.g. ``"homo"``.
        unit : str, optional
            Unit of the values; default the unit registered in :mod:`cgkit.units`
            (an unregistered name without ``unit`` raises KeyError).
        method, program, program_version : str
            How the values are computed, e.g. ``"GFN2-xTB"``, ``"tblite"``, ``"0.4.0"``.
        shape : tuple of int
            Shape of one frame's value; ``()`` for a scalar, ``(N, 3)`` for per-atom vectors.
        dtype : numpy dtype
            Storage dtype (float64 by default; missing values are NaN).
        per_atom : bool, optional
            Whether the first axis of ``shape`` runs over atoms (goes to ``atoms.arrays``);
            default from the registry, else False.

        Returns
        -------
        LabelInfo
            The stored metadata. Re-adding an existing label with the same unit and
            shape returns it unchanged; a conflicting one raises ValueError.
        """
        from cgkit.units import KEYS, unit_of

        self._require_writable()
        if unit is None:
            unit = unit_of(name)
        if not unit:
            raise ValueError(f"{self.where}: label {name!r} needs a unit ('1' if dimensionless)")
        if per_atom is None:
            per_atom = KEYS[name].per_atom if name in KEYS else False
        shape = tuple(int(s) for s in shape)
        existing = self.labels.get(name)
        if existing is not None:
            if existing.unit != unit or existing.shape != shape:
                raise ValueError(
                    f"{self.where}: label {name!r} exists with unit {existing.unit!r} and shape "
                    f"{existing.shape}; cannot re-add it with unit {unit!r} and shape {shape}"
                )
            return existing
        dtype = np.dtype(dtype)
        self._labels_cache = None
        group = self._labels_group(create=True).create_group(name)
        group.set_attrs(
            {
                "unit": unit,
                "method": method,
                "program": program,
                "program_version": program_version,
                "per_atom": bool(per_atom),
                "failures": "{}",
            }
        )
        n_rows = self.group.array("positions").shape[0] if "positions" in self.group else 0
        fill = np.nan if dtype.kind == "f" else 0
        group.create_array(
            "values",
            shape=(n_rows, *shape),
            dtype=dtype,
            chunks=frame_chunks(shape, dtype),
            fill_value=fill,
            attrs={"unit": unit},
        )
        status = group.create_array(
            "status",
            shape=(n_rows,),
            dtype=np.int8,
            chunks=frame_chunks((), np.int8),
            fill_value=schema.PENDING,
            attrs={"unit": "1"},
        )
        if n_rows:  # explicit pending rows (fill values are not trusted after a crash)
            status.write(0, np.full(n_rows, schema.PENDING, dtype=np.int8))
        self.store.flush()
        return self.labels[name]

    # ------------------------------------------------------------------ writes
    def write_labels(self, name: str, indices, values) -> None:
        """Store values of label ``name`` for frames ``indices`` and mark them ok.

        Parameters
        ----------
        name : str
            An added label.
        indices : sequence of int
            Committed frame indices (unique).
        values : array_like, shape (len(indices), *label shape)
            Values in the label's unit.
        """
        self._require_writable()
        group = self._label_group(name)
        idx = self._indices(indices)
        info = self.labels[name]
        values = np.asarray(values, dtype=info.dtype)
        if values.shape != (len(idx), *info.shape):
            raise ValueError(
                f"{self.where}: values for label {name!r} have shape {values.shape}, expected "
                f"{(len(idx), *info.shape)}"
            )
        if len(np.unique(idx)) != len(idx):
            raise ValueError(f"{self.where}: repeated frame indices in write_labels({name!r})")
        order = np.argsort(idx)
        idx, values = idx[order], values[order]
        self._write_rows(self._array(f"labels/{name}/values"), idx, values)
        self.store.flush()
        status = np.full(len(idx), schema.OK, np.int8)
        self._write_rows(self._array(f"labels/{name}/status"), idx, status)
        failures = json.loads(group.attrs().get("failures", "{}"))
        if failures and any(str(i) in failures for i in idx):
            for i in idx:
                failures.pop(str(i), None)
            group.set_attrs({"failures": schema.dumps(failures)})
        self.store.flush()

    @staticmethod
    def _write_rows(array, sorted_idx: np.ndarray, values: np.ndarray) -> None:
        """Write rows at sorted indices: one slab write when contiguous, else per run."""
        if len(sorted_idx) == 0:
            return
        breaks = np.flatnonzero(np.diff(sorted_idx) != 1) + 1
        for run_idx, run_values in zip(
            np.split(sorted_idx, breaks), np.split(values, breaks), strict=True
        ):
            array.write(int(run_idx[0]), run_values)

    def mark_failed(self, name: str, index: int, reason: str) -> None:
        """Record that label ``name`` could not be computed for frame ``index``."""
        self._require_writable()
        group = self._label_group(name)
        i = int(self._indices([index])[0])
        self._array(f"labels/{name}/status").write(i, np.array([schema.FAILED], dtype=np.int8))
        failures = json.loads(group.attrs().get("failures", "{}"))
        failures[str(i)] = str(reason)
        group.set_attrs({"failures": schema.dumps(failures)})
        self.store.flush()

    # ------------------------------------------------------------------ reads
    def read_labels(self, name: str, indices=None) -> np.ndarray:
        """Values of label ``name`` (len(indices), ...) in its unit; NaN where not ok."""
        if name not in self.labels:
            self._label_group(name)  # raises KeyError naming the known labels
        idx = self._indices(indices)
        values = self._read_rows(self._array(f"labels/{name}/values"), idx)
        if values.dtype.kind == "f":
            status = self._read_rows(self._array(f"labels/{name}/status"), idx)
            values[status != schema.OK] = np.nan
        return values

    def label_status(self, name: str, indices=None) -> np.ndarray:
        """Status codes (len(indices),) int8: 0 pending, 1 ok, 2 failed (``cgkit.data.OK``...)."""
        if name not in self.labels:
            self._label_group(name)  # raises KeyError naming the known labels
        return self._read_rows(self._array(f"labels/{name}/status"), self._indices(indices))

    def label_counts(self, name: str) -> dict[str, int]:
        """Number of committed frames per status: ``{"ok": .., "failed": .., "pending": ..}``."""
        status = self.label_status(name)
        return {
            label: int(np.count_nonzero(status == code))
            for code, label in schema.STATUS_NAMES.items()
        }

    def failure_reasons(self, name: str) -> dict[int, str]:
        """Frame -> reason of the frames whose label ``name`` failed."""
        failures = json.loads(self._label_group(name).attrs().get("failures", "{}"))
        return {int(k): v for k, v in sorted(failures.items(), key=lambda kv: int(kv[0]))}

    def ok_frames(self, *names: str) -> np.ndarray:
        """Indices of the frames whose labels ``names`` are all ok."""
        mask = np.ones(self._n_frames, dtype=bool)
        for name in names:
            mask &= self.label_status(name) == schema.OK
        return np.flatnonzero(mask)

    # ------------------------------------------------------------------ append support
    def _prepare_label_values(self, labels: Mapping[str, Any], n_new: int) -> dict:
        """Validate label arrays given to ``append_frames`` (adding registered labels)."""
        from cgkit.units import unit_of

        prepared = {}
        known = self.labels
        for name, values in labels.items():
            values = np.asarray(values)
            if name not in known:
                try:
                    unit_of(name)
                except KeyError:
                    raise KeyError(
                        f"{self.where}: label {name!r} has no registered unit; call "
                        f"add_label({name!r}, unit=...) before appending it"
                    ) from None
                shape = values.shape[1:]
                if values.ndim == 0 or len(values) != n_new:
                    raise ValueError(
                        f"{self.where}: label {name!r} has {values.shape} values for {n_new} frames"
                    )
                known[name] = LabelInfo(name, unit_of(name), "", "", "", shape, "float64", False)
            info = known[name]
            values = values.astype(info.dtype)
            if values.shape != (n_new, *info.shape):
                raise ValueError(
                    f"{self.where}: label {name!r} has shape {values.shape}, expected "
                    f"{(n_new, *info.shape)}"
                )
            prepared[name] = values
        return prepared

    def _append_label_rows(self, start: int, n_new: int, label_values: dict) -> None:
        for name, values in label_values.items():
            if name not in self.labels:
                self.add_label(name, shape=values.shape[1:])
        for name, info in self.labels.items():
            values_array = self._array(f"labels/{name}/values")
            status_array = self._array(f"labels/{name}/status")
            for array in (values_array, status_array):
                if array.shape[0] < start + n_new:
                    array.resize(start + n_new)
            if name in label_values:
                values = label_values[name]
                status = np.full(n_new, schema.OK, dtype=np.int8)
            else:
                fill = np.nan if np.dtype(info.dtype).kind == "f" else 0
                values = np.full((n_new, *info.shape), fill, dtype=info.dtype)
                status = np.full(n_new, schema.PENDING, dtype=np.int8)
            values_array.write(start, values)
            status_array.write(start, status)

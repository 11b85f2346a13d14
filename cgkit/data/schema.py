"""On-disk schema of a cgkit store (shared by the HDF5 and Zarr backends).

Layout (``/`` is the file root or the Zarr directory)::

    /                       attrs: format="cgkit-store", schema_version, cgkit_version,
                                   created (ISO 8601 UTC), provenance (JSON text)
    /systems/<system>/      attrs: n_atoms, n_frames (committed frame count, see below)
        numbers   (N,)      int64    unit "1"
        masses    (N,)      float64  unit "amu"
        bonds     (K, 2)    int64    unit "1"     optional
        positions (F, N, 3) float64  unit "Å"
        cell      (F, 3, 3) float64  unit "Å"     optional (rows are cell vectors)
        pbc       (F, 3)    bool     unit "1"     optional (present with cell)
        time      (F,)      float64  unit "fs"    optional
        forces    (F, N, 3) float64  unit "eV/Å"  optional
        labels/<label>/     attrs: unit, method, program, program_version, per_atom,
                                   failures (JSON text {frame: reason})
            values (F, ...) unit = the label's unit
            status (F,)     int8, unit "1": 0 pending, 1 ok, 2 failed
        maps/               attrs: <map name> = JSON text of CGMap.to_dict()

Every array carries a ``unit`` attribute; readers refuse arrays without one and
registered quantities whose unit differs from :mod:`cgkit.units`.

Crash safety: per-frame arrays are chunked along frames and resized as frames are
appended. An append resizes and writes every per-frame array, flushes, and only then
raises the system's ``n_frames`` attribute and flushes again. Readers use ``n_frames``,
never the array lengths, so a writer killed mid-append leaves the earlier frames readable
and its partially written tail invisible; the next append overwrites that tail. Label
values are written before their status is set to ok, so a killed labeler leaves those
frames pending.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from cgkit.data._backend import Array, Group, StoreError

#: identifies a cgkit store
FORMAT = "cgkit-store"
#: schema version written by this cgkit; readers refuse newer ones
SCHEMA_VERSION = 1

PENDING, OK, FAILED = 0, 1, 2
#: label status code -> name
STATUS_NAMES = {PENDING: "pending", OK: "ok", FAILED: "failed"}

#: per-frame arrays besides positions, in storage order
OPTIONAL_FRAME_FIELDS = ("cell", "pbc", "time", "forces")
#: units required of the fixed arrays
FIXED_UNITS = {
    "numbers": "1",
    "masses": "amu",
    "bonds": "1",
    "positions": "Å",
    "cell": "Å",
    "pbc": "1",
    "time": "fs",
    "forces": "eV/Å",
    "status": "1",
}


def dumps(value: Any) -> str:
    """JSON text of ``value`` for a string attribute (numpy scalars/arrays allowed)."""

    def default(obj):
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(f"cannot store {type(obj).__name__} in a store attribute")

    return json.dumps(value, default=default, ensure_ascii=False, sort_keys=True)


def check_root(root: Group, path) -> dict[str, Any]:
    """Validate the root attributes; return them. Raises :class:`StoreError`."""
    attrs = root.attrs()
    if attrs.get("format") != FORMAT:
        raise StoreError(
            f"{path}: not a cgkit store (root attribute format={attrs.get('format')!r})"
        )
    version = attrs.get("schema_version")
    if not isinstance(version, int):
        raise StoreError(f"{path}: missing or invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {version} is newer than this cgkit understands "
            f"({SCHEMA_VERSION}; file written by cgkit {attrs.get('cgkit_version', '?')}); "
            "upgrade cgkit to read it"
        )
    return attrs


def check_units(group: Group, path) -> None:
    """Walk ``group`` and refuse any array without a unit (or with the wrong one)."""
    for name in group.array_names():
        array = group.array(name)
        unit = array.attrs().get("unit")
        if not isinstance(unit, str) or not unit:
            raise StoreError(f"{path}: array {array.path} has no 'unit' attribute")
        expected = FIXED_UNITS.get(name)
        if name != "values" and expected is not None and unit != expected:
            raise StoreError(f"{path}: array {array.path} has unit {unit!r}, expected {expected!r}")
    for name in group.group_names():
        check_units(group.group(name), path)


def check_array_length(array: Array, n_frames: int, path) -> None:
    """Refuse a per-frame array shorter than the committed frame count."""
    if array.shape[0] < n_frames:
        raise StoreError(
            f"{path}: array {array.path} holds {array.shape[0]} frames but the store "
            f"committed {n_frames} (truncated file?)"
        )

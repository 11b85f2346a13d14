"""ASE io plugin: ``ase.io.read("frames.h5", index=":")`` and ``ase.io.write("frames.h5", images)``.

Registered through the ``ase.ioformats`` entry point ``cgkit-h5`` (pyproject.toml), so ASE
imports this module when ``ase.io`` is first imported: it must stay light (no torch, no
h5py/zarr at import time). :data:`zarr_format` is the same for Zarr directories; ASE
guesses every directory to be a bundle trajectory, so reading needs
``format="cgkit-zarr"`` (writing ``*.zarr`` is recognised by name) once the entry point
``cgkit-zarr = "cgkit.data.aseio:zarr_format"`` is declared.

Reading yields :meth:`cgkit.data.System.to_atoms` frames of the store's only system
(labels in ``atoms.info``, per-atom arrays in ``atoms.arrays``).
Writing creates a new store with one system ``"system"`` (``append=True`` adds frames to
it); ``energy`` (and forces) come from the Atoms' calculator results and any registered
numeric ``info`` keys (``homo``, ``lumo``, ...) become labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.utils.plugins import ExternalIOFormat

#: the entry point object (``[project.entry-points."ase.ioformats"] cgkit-h5``)
h5_format = ExternalIOFormat(
    desc="cgkit dataset store (HDF5)",
    code="+S",
    module="cgkit.data.aseio",
    glob="*.h5",
    ext="h5",
)


#: the Zarr counterpart (entry point ``cgkit-zarr``)
zarr_format = ExternalIOFormat(
    desc="cgkit dataset store (Zarr v3 directory)",
    code="+S",
    module="cgkit.data.aseio",
    glob="*.zarr",
)


def _only_system(store, filename):
    names = store.system_names
    if len(names) != 1:
        raise ValueError(
            f"{filename}: ASE reads stores with exactly one system; this one has {names} "
            "(use cgkit.data.open(...)[name] instead)"
        )
    return store[names[0]]


def read_cgkit_h5(filename, index=None):
    """Yield the frames ``index`` (int or slice; default all) as :class:`ase.Atoms`."""
    from cgkit.data.store import open as open_store

    with open_store(filename, "r") as store:
        system = _only_system(store, filename)
        if index is None:
            index = slice(None)
        frames = range(system.n_frames)[index]
        for i in [frames] if isinstance(frames, int) else frames:
            yield system.to_atoms(i)


def write_cgkit_h5(filename, images, append: bool = False):
    """Write ``images`` (Atoms or list of Atoms with equal atom lists) to a store."""
    from ase import Atoms

    from cgkit.data.store import create
    from cgkit.data.store import open as open_store
    from cgkit.units import KEYS

    if isinstance(images, Atoms):
        images = [images]
    images = list(images)
    if not images:
        raise ValueError(f"{filename}: no frames to write")
    first = images[0]
    path = Path(filename)
    append = append and path.exists()
    store = open_store(path, "a") if append else create(path, provenance={"writer": "ase.io.write"})
    with store:
        if append:
            system = _only_system(store, filename)
        else:
            system = store.add_system("system", first.numbers, masses=first.get_masses())
        periodic = bool(first.pbc.any() or first.cell.rank > 0)
        results = [a.calc.results if a.calc is not None else {} for a in images]
        labels = {}
        if all("energy" in r for r in results):
            labels["energy"] = np.array([r["energy"] for r in results])
        for key in first.info:
            if key in KEYS and key != "time" and all(key in a.info for a in images):
                values = np.asarray([a.info[key] for a in images])
                if values.dtype.kind in "fiu":
                    labels[key] = values.astype(float)
        forces = None
        if all("forces" in r for r in results):
            forces = np.stack([r["forces"] for r in results])
        for i, atoms in enumerate(images):
            if len(atoms) != system.n_atoms or np.any(atoms.numbers != system.numbers):
                raise ValueError(
                    f"{filename}: image {i} has a different atom list than the store's system"
                )
        system.append_frames(
            np.stack([a.positions for a in images]),
            cell=np.stack([a.cell.array for a in images]) if periodic else None,
            pbc=np.stack([a.pbc for a in images]) if periodic else None,
            time=[a.info["time"] for a in images] if "time" in first.info else None,
            forces=forces,
            labels=labels,
        )


#: the Zarr reader and writer are the same functions (the backend follows the suffix)
read_cgkit_zarr = read_cgkit_h5
write_cgkit_zarr = write_cgkit_h5

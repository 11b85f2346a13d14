"""The calculator zoo: ready ECG models shipped in the repository's ``calculators/`` folder.

Each entry is a folder ``calculators/<name>/`` holding

* ``entry.json`` -- what the entry is (property name, label, file names, metrics);
* ``model.pt`` -- the model as written by :meth:`cgkit.ecg.ECGRegressor.save`;
* ``map.json`` -- the CG map (:meth:`cgkit.CGMap.write`), so the calculator takes all-atom Atoms;
* ``reference.json`` -- all-atom frames and their stored predictions (checked by the tests);
* ``CARD.md`` -- the model card, with the command that re-makes the entry.

>>> from cgkit.calculators import load  # doctest: +SKIP
>>> calc = load("bithiophene-homo-8bead")  # doctest: +SKIP
>>> atoms.calc = calc; atoms.calc.get_property("homo", atoms)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: file names inside an entry folder
ENTRY_FILE = "entry.json"
MODEL_FILE = "model.pt"
MAP_FILE = "map.json"
REFERENCE_FILE = "reference.json"
CARD_FILE = "CARD.md"

#: the only model kind the zoo holds so far
MODEL_KIND = "ECGRegressor"


class UnknownCalculatorError(KeyError):
    """No zoo entry of that name (a ``KeyError`` whose message lists the available names)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def zoo_dir() -> Path:
    """The ``calculators/`` folder of the source checkout cgkit is installed from.

    Raises
    ------
    FileNotFoundError
        When cgkit is not installed from a source checkout (the zoo is not part of wheels).
    """
    import cgkit

    root = Path(cgkit.__file__).resolve().parents[1] / "calculators"
    if not root.is_dir():
        raise FileNotFoundError(
            f"calculator zoo folder {root} not found: the zoo ships with the cgkit source "
            "repository (install it with `pip install -e .` from a checkout), or pass root=..."
        )
    return root


@dataclass(frozen=True)
class ZooEntry:
    """One zoo entry as described by its ``entry.json``.

    Attributes
    ----------
    name : str
        Folder name, the name given to :func:`load`.
    folder : Path
    property : str
        Name of the calculator's result (``property`` and ``property + "_std"``).
    label : str
        Store label the model was trained on.
    unit : str
        Unit of the predicted property (eV).
    description : str
    """

    name: str
    folder: Path
    property: str
    label: str
    unit: str
    description: str

    @classmethod
    def read(cls, folder: str | Path) -> ZooEntry:
        """Read ``folder/entry.json``; errors name the file and the missing key."""
        folder = Path(folder)
        path = folder / ENTRY_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"zoo entry {folder.name!r}: {path} is missing") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if data.get("kind") != MODEL_KIND:
            raise ValueError(f"{path}: kind must be {MODEL_KIND!r}, got {data.get('kind')!r}")
        try:
            return cls(
                name=folder.name,
                folder=folder,
                property=str(data["property"]),
                label=str(data["label"]),
                unit=str(data["unit"]),
                description=str(data["description"]),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: missing key {exc.args[0]!r}") from None

    def _file(self, name: str) -> Path:
        path = self.folder / name
        if not path.is_file():
            raise FileNotFoundError(f"zoo entry {self.name!r}: {path} is missing")
        return path

    def read_model(self, device: str = "cpu"):
        """The fitted :class:`~cgkit.ecg.ECGRegressor` of this entry."""
        from cgkit.ecg import ECGRegressor

        return ECGRegressor.load(self._file(MODEL_FILE), device=device)

    def read_map(self):
        """The :class:`~cgkit.CGMap` from all-atom positions to the model's beads."""
        from cgkit.mapping import CGMap

        return CGMap.read(self._file(MAP_FILE))

    def read_reference(self) -> dict:
        """Stored all-atom frames and predictions.

        Returns
        -------
        dict
            ``numbers`` (N,) int, ``positions`` (R, N, 3) Å, ``frames`` (R,) store frame
            indices, ``mean`` and ``std`` (R,) in :attr:`unit`, ``label`` (R,) the stored
            label values.
        """
        path = self._file(REFERENCE_FILE)
        data = json.loads(path.read_text())
        try:
            return {
                "numbers": np.asarray(data["numbers"], dtype=int),
                "positions": np.asarray(data["positions"], dtype=float),
                "frames": np.asarray(data["frames"], dtype=int),
                "mean": np.asarray(data["mean"], dtype=float),
                "std": np.asarray(data["std"], dtype=float),
                "label": np.asarray(data["label"], dtype=float),
            }
        except KeyError as exc:
            raise ValueError(f"{path}: missing key {exc.args[0]!r}") from None


def available(root: str | Path | None = None) -> list[str]:
    """Sorted names of the zoo entries (folders with an ``entry.json``)."""
    root = zoo_dir() if root is None else Path(root)
    return sorted(p.parent.name for p in root.glob(f"*/{ENTRY_FILE}"))


def entry(name: str, root: str | Path | None = None) -> ZooEntry:
    """The :class:`ZooEntry` called ``name``.

    Raises
    ------
    UnknownCalculatorError
        (a ``KeyError``) when there is no such entry; the message lists the available names.
    """
    root = zoo_dir() if root is None else Path(root)
    names = available(root)
    if name not in names:
        raise UnknownCalculatorError(
            f"no calculator {name!r} in the zoo ({root}); available: "
            + (", ".join(names) if names else "none")
        )
    return ZooEntry.read(root / name)


def load(name: str, device: str = "cpu", root: str | Path | None = None):
    """A ready :class:`~cgkit.calculators.ECGCalculator` from the zoo.

    The calculator maps all-atom Atoms (atom order of the entry's recipe) to beads with the
    stored CG map and returns ``<property>`` and ``<property>_std`` in eV.

    Parameters
    ----------
    name : str
        Entry name, e.g. ``"bithiophene-homo-8bead"`` (see :func:`available`).
    device : str
        Torch device of the model.
    root : path, optional
        Zoo folder; default the repository's ``calculators/`` (:func:`zoo_dir`).

    Returns
    -------
    ECGCalculator
    """
    from cgkit.calculators.ecg import ECGCalculator

    item = entry(name, root)
    return ECGCalculator(item.read_model(device), property=item.property, cgmap=item.read_map())

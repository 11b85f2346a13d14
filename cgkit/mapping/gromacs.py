"""Minimal reader of GROMACS ``.itp`` molecule topologies ([atoms] and [bonds] only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgkit.mapping.formats import MapFormatError, element_of_type


@dataclass(frozen=True)
class ItpMolecule:
    """Atoms and bonds of one ``[moleculetype]``; indices 0-based.

    Attributes
    ----------
    names, types : tuple of str, length N
        Atom names and force-field types.
    symbols : tuple of str, length N
        Elements derived from the types (``C_AR`` -> C).
    charge_groups : ndarray of int, shape (N,)
        The ``cgnr`` column.
    masses : ndarray, shape (N,), amu
        The mass column when present, else the element's standard mass.
    bonds : ndarray of int, shape (K, 2)
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    symbols: tuple[str, ...]
    charge_groups: np.ndarray
    masses: np.ndarray
    bonds: np.ndarray


def read_itp(path) -> ItpMolecule:
    """Read the ``[atoms]`` and ``[bonds]`` sections of a single-molecule ``.itp`` file."""
    from ase.data import atomic_masses, atomic_numbers

    path = Path(path)
    section = None
    atoms: dict[int, tuple] = {}
    bonds = []
    for line_number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(";")[0].strip()
        if not line:
            continue
        if line.startswith("["):
            name = line.strip("[] ").lower()
            section = None if name.startswith("/") else name
            continue
        fields = line.split()
        try:
            if section == "atoms":
                index = int(fields[0])
                if index in atoms:
                    raise MapFormatError(f"{path}, line {line_number}: atom {index} listed twice")
                element = element_of_type(fields[1])
                if element is None:
                    raise MapFormatError(
                        f"{path}, line {line_number}: unknown element for atom type {fields[1]!r}"
                    )
                mass = (
                    float(fields[7])
                    if len(fields) > 7
                    else float(atomic_masses[atomic_numbers[element]])
                )
                atoms[index] = (fields[4], fields[1], element, int(fields[5]), mass)
            elif section == "bonds":
                bonds.append((int(fields[0]) - 1, int(fields[1]) - 1))
        except (IndexError, ValueError) as exc:
            if isinstance(exc, MapFormatError):
                raise
            raise MapFormatError(
                f"{path}, line {line_number}: cannot parse [{section}] line {raw!r}"
            ) from None
    if not atoms:
        raise MapFormatError(f"{path}: no [atoms] section found")
    n_atoms = max(atoms)
    missing = sorted(set(range(1, n_atoms + 1)) - set(atoms))
    if missing:
        raise MapFormatError(f"{path}: atom {missing[0]} (1-based) missing from [atoms]")
    bonds = np.array(bonds, dtype=int).reshape(-1, 2)
    if bonds.size and (bonds.min() < 0 or bonds.max() >= n_atoms):
        raise MapFormatError(f"{path}: a bond names an atom outside 1..{n_atoms}")
    rows = [atoms[i] for i in range(1, n_atoms + 1)]
    return ItpMolecule(
        names=tuple(r[0] for r in rows),
        types=tuple(r[1] for r in rows),
        symbols=tuple(r[2] for r in rows),
        charge_groups=np.array([r[3] for r in rows], dtype=int),
        masses=np.array([r[4] for r in rows], dtype=float),
        bonds=bonds,
    )

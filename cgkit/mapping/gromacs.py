"""Minimal reader of GROMACS ``.itp`` molecule topologies (one ``[moleculetype]``).

Reads ``[moleculetype]`` (nrexcl), ``[atoms]``, ``[bonds]``, ``[angles]``,
``[dihedrals]`` (with their function type) and ``[exclusions]``; other sections and
preprocessor lines (``#...``) are skipped. Closing tags ``[/name]`` end a section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgkit.mapping.formats import MapFormatError, element_of_type

_WIDTH = {"bonds": 2, "angles": 3, "dihedrals": 4}


@dataclass(frozen=True)
class ItpMolecule:
    """Atoms and bonded terms of one ``[moleculetype]``; indices 0-based.

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
    angles : ndarray of int, shape (A, 3)
    dihedrals : ndarray of int, shape (D, 4)
    dihedral_funcs : ndarray of int, shape (D,)
        GROMACS function type of each dihedral (1 periodic, 2 harmonic improper, ...).
    exclusions : ndarray of int, shape (E, 2)
        Explicit ``[exclusions]`` pairs ``i < j`` (a line ``i j k`` excludes ``i-j``, ``i-k``).
    nrexcl : int
        Non-bonded exclusions up to this many bonds apart (``[moleculetype]``; 3 if absent).
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    symbols: tuple[str, ...]
    charge_groups: np.ndarray
    masses: np.ndarray
    bonds: np.ndarray
    angles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=int))
    dihedrals: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=int))
    dihedral_funcs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    exclusions: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=int))
    nrexcl: int = 3


def read_itp(path) -> ItpMolecule:
    """Read one molecule of a single-molecule ``.itp`` file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ItpMolecule
        0-based indices. Malformed lines raise :class:`MapFormatError` naming the file and
        line.
    """
    from ase.data import atomic_masses, atomic_numbers

    path = Path(path)
    section = None
    atoms: dict[int, tuple] = {}
    terms: dict[str, list] = {"bonds": [], "angles": [], "dihedrals": [], "exclusions": []}
    nrexcl = 3
    for line_number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(";")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            name = line.strip("[] ").lower()
            section = None if name.startswith(("/", "\\")) else name
            continue
        fields = line.split()
        try:
            if section == "moleculetype":
                nrexcl = int(fields[1])
            elif section == "atoms":
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
            elif section in _WIDTH:
                width = _WIDTH[section]
                idx = [int(f) - 1 for f in fields[:width]]
                if len(idx) < width:
                    raise IndexError
                func = int(fields[width]) if len(fields) > width else 1
                terms[section].append((line_number, idx, func))
            elif section == "exclusions":
                idx = [int(f) - 1 for f in fields]
                terms[section] += [(line_number, sorted((idx[0], j)), 0) for j in idx[1:]]
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
    arrays = {}
    for section, rows in terms.items():
        for line_number, idx, _func in rows:
            if min(idx) < 0 or max(idx) >= n_atoms:
                raise MapFormatError(
                    f"{path}, line {line_number}: atom index out of range 1..{n_atoms} "
                    f"in [{section}]"
                )
        width = _WIDTH.get(section, 2)
        arrays[section] = np.array([r[1] for r in rows], dtype=int).reshape(-1, width)
    rows = [atoms[i] for i in range(1, n_atoms + 1)]
    return ItpMolecule(
        names=tuple(r[0] for r in rows),
        types=tuple(r[1] for r in rows),
        symbols=tuple(r[2] for r in rows),
        charge_groups=np.array([r[3] for r in rows], dtype=int),
        masses=np.array([r[4] for r in rows], dtype=float),
        bonds=arrays["bonds"],
        angles=arrays["angles"],
        dihedrals=arrays["dihedrals"],
        dihedral_funcs=np.array([r[2] for r in terms["dihedrals"]], dtype=int),
        exclusions=arrays["exclusions"],
        nrexcl=nrexcl,
    )

"""Map files: cgkit JSON, the DKL-ECG text format and the DBM ``[map]`` format.

* cgkit JSON (``.json``): lossless, written by :meth:`CGMap.write`.
* DKL-ECG (Maier & Jackson): first line ``n_atoms n_beads``, one header line, then one line
  per atom ``Atom_type Element Structure Mass Charge Adj_mat...`` with Structure the
  0-based bead, Mass the atom's weight in its bead centre and Adj_mat 0-based bonded atoms.
* DBM (Stieffenhofer et al.): a ``[map]`` ... ``[/map]`` block of lines
  ``atom_index atom_type bead_index bead_type`` (1-based), one molecule; beads are
  mass-weighted, atom masses follow the element read from the atom type (``C_AR`` -> C).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cgkit._version import __version__

FORMAT_NAME = "cgkit-map"
FORMAT_VERSION = 1


class MapFormatError(ValueError):
    """A map file is malformed (the message names the file and line)."""


# ---------------------------------------------------------------------- JSON / dict
def map_to_dict(cgmap) -> dict:
    """JSON-able dict of a :class:`~cgkit.mapping.CGMap` (exact floats, sparse weights)."""
    coo = cgmap.sparse_weights.tocoo()

    def pairs(array):
        return None if array is None else np.asarray(array, dtype=int).tolist()

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "cgkit_version": __version__,
        "n_atoms": cgmap.n_atoms,
        "n_beads": cgmap.n_beads,
        "weights": {
            "bead": coo.row.astype(int).tolist(),
            "atom": coo.col.astype(int).tolist(),
            "value": coo.data.astype(float).tolist(),
        },
        "masses": None if cgmap.masses is None else cgmap.masses.astype(float).tolist(),
        "symbols": None if cgmap.symbols is None else list(cgmap.symbols),
        "bead_names": list(cgmap.bead_names),
        "bead_types": list(cgmap.bead_types),
        "atom_bonds": pairs(cgmap.atom_bonds),
        "bead_bonds": pairs(cgmap.bead_bonds),
        "allow_unmapped": cgmap.allow_unmapped,
    }


def map_from_dict(data: dict, source: str = "map dict"):
    """Inverse of :func:`map_to_dict`; ``source`` names the origin in error messages."""
    from cgkit.mapping.cgmap import CGMap

    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise MapFormatError(f"{source}: not a cgkit map (expected 'format': {FORMAT_NAME!r})")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise MapFormatError(
            f"{source}: map format version {data['format_version']} is newer than this cgkit "
            f"({__version__}) supports ({FORMAT_VERSION})"
        )
    try:
        shape = (int(data["n_beads"]), int(data["n_atoms"]))
        entries = data["weights"]
        matrix = sp.csr_matrix(
            (
                np.asarray(entries["value"], dtype=float),
                (np.asarray(entries["bead"], dtype=int), np.asarray(entries["atom"], dtype=int)),
            ),
            shape=shape,
        )
    except KeyError as exc:
        raise MapFormatError(f"{source}: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise MapFormatError(f"{source}: bad weights: {exc}") from None
    try:
        return CGMap(
            matrix,
            masses=data.get("masses"),
            bead_names=data.get("bead_names"),
            bead_types=data.get("bead_types"),
            atom_bonds=data.get("atom_bonds"),
            bead_bonds=data.get("bead_bonds"),
            symbols=data.get("symbols"),
            allow_unmapped=bool(data.get("allow_unmapped", False)),
        )
    except ValueError as exc:
        raise MapFormatError(f"{source}: {exc}") from None


def read_json(path: Path):
    """Read a cgkit JSON map."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise MapFormatError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
    return map_from_dict(data, source=str(path))


# ---------------------------------------------------------------------- DKL-ECG
def _element(symbol: str, path: Path, line_number: int) -> str:
    from ase.data import atomic_numbers

    if symbol not in atomic_numbers or atomic_numbers[symbol] == 0:
        raise MapFormatError(f"{path}, line {line_number}: unknown element {symbol!r}")
    return symbol


def read_dklecg(path: Path):
    """Read a DKL-ECG ``.map`` file (see module docstring); masses = the Mass column."""
    from cgkit.mapping.cgmap import CGMap

    lines = Path(path).read_text().splitlines()
    if not lines:
        raise MapFormatError(f"{path}, line 1: empty map file")
    try:
        n_atoms, n_beads = (int(x) for x in lines[0].split())
    except ValueError:
        raise MapFormatError(
            f"{path}, line 1: expected 'n_atoms n_beads', got {lines[0]!r}"
        ) from None
    atom_lines = [(k + 1, line) for k, line in enumerate(lines) if k >= 2 and line.strip()]
    if len(atom_lines) != n_atoms:
        last = atom_lines[-1][0] if atom_lines else 2
        raise MapFormatError(
            f"{path}, line {last}: header says {n_atoms} atoms but the file has "
            f"{len(atom_lines)} atom lines"
        )
    symbols, beads, masses, bonds = [], [], [], []
    for atom, (line_number, line) in enumerate(atom_lines):
        fields = line.split()
        if len(fields) < 5:
            raise MapFormatError(
                f"{path}, line {line_number} (atom {atom}): expected 'Atom_type Element "
                f"Structure Mass Charge Adj_mat...', got {line!r}"
            )
        symbols.append(_element(fields[1], path, line_number))
        try:
            bead = int(fields[2])
            mass = float(fields[3])
            neighbours = [int(x) for x in fields[5:]]
        except ValueError as exc:
            raise MapFormatError(f"{path}, line {line_number} (atom {atom}): {exc}") from None
        if not 0 <= bead < n_beads:
            raise MapFormatError(
                f"{path}, line {line_number} (atom {atom}): bead {bead} outside 0..{n_beads - 1}"
            )
        if not np.isfinite(mass) or mass <= 0:
            raise MapFormatError(
                f"{path}, line {line_number} (atom {atom}): weight {mass} must be positive"
            )
        for other in neighbours:
            if not 0 <= other < n_atoms or other == atom:
                raise MapFormatError(
                    f"{path}, line {line_number} (atom {atom}): bonded atom {other} outside "
                    f"0..{n_atoms - 1} or the atom itself"
                )
            bonds.append((min(atom, other), max(atom, other)))
        beads.append(bead)
        masses.append(mass)
    missing = sorted(set(range(n_beads)) - set(beads))
    if missing:
        raise MapFormatError(f"{path}: bead {missing[0]} has no atoms (header says {n_beads})")
    matrix = sp.csr_matrix((masses, (beads, np.arange(n_atoms))), shape=(n_beads, n_atoms))
    return CGMap(
        matrix,
        masses=masses,
        atom_bonds=np.array(sorted(set(bonds)), dtype=int).reshape(-1, 2),
        symbols=symbols,
    )


def write_dklecg(cgmap, path: Path) -> None:
    """Write a centre-of-mass map without shared atoms in the DKL-ECG text format."""
    if cgmap.symbols is None or cgmap.masses is None:
        raise ValueError("the DKL-ECG format needs the map's symbols and masses")
    if len(cgmap.shared_atoms):
        raise ValueError(
            f"the DKL-ECG format has one bead per atom; atom {cgmap.shared_atoms[0]} is shared"
        )
    coo = cgmap.sparse_weights.tocoo()
    if coo.nnz != cgmap.n_atoms:
        raise ValueError("the DKL-ECG format cannot drop atoms (this map leaves atoms unmapped)")
    bead_of = np.empty(cgmap.n_atoms, dtype=int)
    bead_of[coo.col] = coo.row
    expected = cgmap.masses / np.bincount(bead_of, weights=cgmap.masses)[bead_of]
    if not np.allclose(np.asarray(cgmap.weights[bead_of, np.arange(cgmap.n_atoms)]), expected):
        raise ValueError("the DKL-ECG format stores centre-of-mass maps only")
    neighbours = [[] for _ in range(cgmap.n_atoms)]
    for i, j in cgmap.atom_bonds if cgmap.atom_bonds is not None else []:
        neighbours[i].append(j)
        neighbours[j].append(i)
    types = {s: k + 1 for k, s in enumerate(dict.fromkeys(cgmap.symbols))}
    rows = [
        f"{cgmap.n_atoms} {cgmap.n_beads}",
        "Atom_type     Element     Structure     Mass          Charge          Adj_mat",
    ]
    for atom, symbol in enumerate(cgmap.symbols):
        bonded = " ".join(str(j) for j in sorted(neighbours[atom]))
        rows.append(
            f"{types[symbol]:<13d} {symbol:<11s} {bead_of[atom]:<13d} "
            f"{float(cgmap.masses[atom])!r:<13s} {0.0:<15.6f} {bonded}"
        )
    Path(path).write_text("\n".join(rows) + "\n")


# ---------------------------------------------------------------------- DBM
def element_of_type(atom_type: str) -> str | None:
    """Element symbol of a force-field atom type (``C_AR`` -> ``C``, ``CL1`` -> ``Cl``)."""
    from ase.data import atomic_numbers

    letters = re.match(r"[A-Za-z]+", atom_type.split("_")[0])
    if not letters:
        return None
    word = letters.group(0)
    for candidate in (word[:2].capitalize(), word[:1].upper()):
        if candidate in atomic_numbers and atomic_numbers[candidate] > 0:
            if len(candidate) == 2 and candidate.upper() != word.upper():
                continue
            return candidate
    return None


def read_dbm(path: Path):
    """Read the ``[map]`` block of a DBM map file (one molecule, mass-weighted beads)."""
    from ase.data import atomic_masses, atomic_numbers

    from cgkit.mapping.cgmap import CGMap

    entries = {}
    inside = False
    bead_types: dict[int, str] = {}
    for line_number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.split(";")[0].strip()
        if line == "[map]":
            inside = True
            continue
        if line == "[/map]" or (inside and line.startswith("[")):
            inside = False
            continue
        if not inside or not line:
            continue
        fields = line.split()
        if len(fields) != 4:
            raise MapFormatError(
                f"{path}, line {line_number}: expected 'atom_index atom_type bead_index "
                f"bead_type', got {raw!r}"
            )
        try:
            atom, bead = int(fields[0]), int(fields[2])
        except ValueError:
            raise MapFormatError(
                f"{path}, line {line_number}: atom and bead indices must be integers, got {raw!r}"
            ) from None
        if atom < 1 or bead < 1:
            raise MapFormatError(f"{path}, line {line_number}: indices are 1-based, got {raw!r}")
        if atom in entries:
            raise MapFormatError(
                f"{path}, line {line_number}: atom {atom} already mapped on line "
                f"{entries[atom][2]} (one bead per atom in this format)"
            )
        element = element_of_type(fields[1])
        if element is None:
            raise MapFormatError(
                f"{path}, line {line_number}: unknown element for atom type {fields[1]!r}"
            )
        if bead_types.setdefault(bead, fields[3]) != fields[3]:
            raise MapFormatError(
                f"{path}, line {line_number}: bead {bead} has type {fields[3]!r} here but "
                f"{bead_types[bead]!r} before"
            )
        entries[atom] = (bead, element, line_number)
    if not entries:
        raise MapFormatError(f"{path}: no [map] entries found")
    n_atoms, n_beads = max(entries), max(bead_types)
    missing = sorted(set(range(1, n_atoms + 1)) - set(entries))
    if missing:
        raise MapFormatError(f"{path}: atom {missing[0]} (1-based) is in no bead")
    missing = sorted(set(range(1, n_beads + 1)) - set(bead_types))
    if missing:
        raise MapFormatError(f"{path}: bead {missing[0]} (1-based) has no atoms")
    symbols = [entries[a][1] for a in range(1, n_atoms + 1)]
    beads = [entries[a][0] - 1 for a in range(1, n_atoms + 1)]
    masses = np.array([atomic_masses[atomic_numbers[s]] for s in symbols])
    matrix = sp.csr_matrix((masses, (beads, np.arange(n_atoms))), shape=(n_beads, n_atoms))
    return CGMap(
        matrix,
        masses=masses,
        bead_names=[f"{bead_types[b]}{b}" for b in range(1, n_beads + 1)],
        bead_types=[bead_types[b] for b in range(1, n_beads + 1)],
        symbols=symbols,
    )


# ---------------------------------------------------------------------- dispatch
def detect_format(path: Path) -> str:
    """Return ``"json"``, ``"dbm"`` or ``"dkl-ecg"`` from the file's content."""
    text = Path(path).read_text()
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith("{"):
        return "json"
    if re.search(r"^\s*\[map\]\s*$", text, flags=re.MULTILINE):
        return "dbm"
    lines = stripped.splitlines()
    first = lines[0].split() if lines else []
    header = lines[1].split()[:1] if len(lines) > 1 else []
    if (len(first) == 2 and all(x.isdigit() for x in first)) or header == ["Atom_type"]:
        return "dkl-ecg"
    raise MapFormatError(
        f"{path}, line 1: unknown map format (expected cgkit JSON, a DBM [map] block or a "
        "DKL-ECG 'n_atoms n_beads' first line)"
    )


def read_map(path: Path):
    """Read a map file of any supported format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"map file not found: {path}")
    readers = {"json": read_json, "dbm": read_dbm, "dkl-ecg": read_dklecg}
    fmt = detect_format(path)
    try:
        return readers[fmt](path)
    except MapFormatError:
        raise
    except ValueError as exc:  # validation errors of the map itself
        raise MapFormatError(f"{path}: {exc}") from None


def write_map(cgmap, path: Path, format: str | None = None) -> None:
    """Write ``cgmap`` as ``"json"`` (default) or ``"dkl-ecg"``."""
    fmt = format or "json"
    if fmt == "json":
        Path(path).write_text(json.dumps(map_to_dict(cgmap), indent=1) + "\n")
    elif fmt == "dkl-ecg":
        write_dklecg(cgmap, path)
    else:
        raise ValueError(f"unknown map format {format!r} (use 'json' or 'dkl-ecg')")

"""GROMACS ``.itp`` topologies and the DBM ``ff.txt`` force-field table.

The deep-backmapping (DBM) method of Stieffenhofer, Wand & Bereau (Mach. Learn.: Sci.
Technol. 1, 045014, 2020) describes every interaction type by its parameters *and* by the
voxel channel the interaction is drawn into when a local environment is featurised. Both
files are read by small parsers here; parameters are converted to cgkit units on reading
(Å, eV, rad, amu).

Functional forms (GROMACS conventions)
--------------------------------------
bond (func 1)        ``0.5 kb (r - b0)^2``
angle (func 1)       ``0.5 k (theta - theta0)^2``
dihedral (func 1)    ``k (1 + cos(n phi - phi_s))``      parameters ``phi_s [deg], k, n``
dihedral (func 2)    ``0.5 k (xi - xi0)^2`` (improper)   parameters ``xi0 [deg], k``
Lennard-Jones        ``4 eps ((s/r)^12 - (s/r)^6)`` with Lorentz-Berthelot mixing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgkit.units import KJMOL_EV, NM_TO_ANGSTROM

_SECTION = re.compile(r"^\[\s*([/\\]?)\s*([A-Za-z_]+)\s*\]$")


def _sections(path: Path) -> dict[str, list[tuple[int, list[str]]]]:
    """Split a bracketed text file into ``name -> [(line_number, tokens), ...]``.

    Comments start with ``;``; closing tags ``[/name]`` or ``[\\name]`` are accepted and a
    section repeated later in the file is appended to.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"force-field/topology file not found: {path}")
    out: dict[str, list[tuple[int, list[str]]]] = {}
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = _SECTION.match(line)
        if match:
            closing, name = match.groups()
            current = None if closing else name.lower()
            if current is not None:
                out.setdefault(current, [])
            continue
        if current is None:
            raise ValueError(f"{path}:{number}: data outside a [section]: {raw!r}")
        out[current].append((number, line.split()))
    return out


def _floats(path, number, tokens) -> list[float]:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        raise ValueError(f"{path}:{number}: expected numbers, got {' '.join(tokens)!r}") from None


@dataclass(frozen=True)
class AtomType:
    """LJ parameters of one atom type (sigma in Å, epsilon in eV, mass in amu)."""

    name: str
    channel: int
    mass: float
    charge: float
    sigma: float
    epsilon: float


@dataclass(frozen=True)
class InteractionType:
    """One bonded interaction type: voxel channel, GROMACS function and parameters.

    ``params`` are in cgkit units: bonds ``(b0 Å, kb eV/Å^2)``; angles ``(theta0 rad,
    k eV/rad^2)``; proper dihedrals ``(phi_s rad, k eV, n)``; impropers ``(xi0 rad,
    k eV/rad^2)``.
    """

    types: tuple[str, ...]
    channel: int
    func: int
    params: tuple[float, ...]


def _convert(kind: str, func: int, raw: list[float], where: str) -> tuple[float, ...]:
    if kind == "bond":
        if func != 1 or len(raw) < 2:
            raise ValueError(f"{where}: only harmonic bonds (func 1, b0 kb) are supported")
        return (raw[0] * NM_TO_ANGSTROM, raw[1] * KJMOL_EV / NM_TO_ANGSTROM**2)
    if kind == "angle":
        if func != 1 or len(raw) < 2:
            raise ValueError(f"{where}: only harmonic angles (func 1, th0 cth) are supported")
        return (np.deg2rad(raw[0]), raw[1] * KJMOL_EV)
    if func == 1 and len(raw) >= 3:
        return (np.deg2rad(raw[0]), raw[1] * KJMOL_EV, raw[2])
    if func == 2 and len(raw) >= 2:
        return (np.deg2rad(raw[0]), raw[1] * KJMOL_EV)
    raise ValueError(f"{where}: dihedral func {func} with {len(raw)} parameters is not supported")


@dataclass
class ForceField:
    """Parsed ``ff.txt``: interaction parameters and voxel channels.

    Lookups of bonded types are order-insensitive (``(i, j, k)`` equals ``(k, j, i)``).
    """

    name: str
    nrexcl: int
    atom_types: dict[str, AtomType]
    bond_types: dict[tuple[str, ...], InteractionType]
    angle_types: dict[tuple[str, ...], InteractionType]
    dihedral_types: dict[tuple[str, ...], InteractionType]
    lj_channels: dict[tuple[str, str], int]
    bead_channels: dict[str, int]

    @property
    def n_channels(self) -> int:
        """Number of interaction + bead channels (largest channel index + 1)."""
        channels = [t.channel for t in self.atom_types.values()]
        for table in (self.bond_types, self.angle_types, self.dihedral_types):
            channels += [t.channel for t in table.values()]
        channels += list(self.lj_channels.values()) + list(self.bead_channels.values())
        return max(channels) + 1

    def _lookup(self, table, types, kind):
        types = tuple(types)
        hit = table.get(types) or table.get(types[::-1])
        if hit is None:
            raise KeyError(f"no {kind} type for atom types {'-'.join(types)} in force field")
        return hit

    def bond(self, types) -> InteractionType:
        """Bond type of atom types ``(i, j)``."""
        return self._lookup(self.bond_types, types, "bond")

    def angle(self, types) -> InteractionType:
        """Angle type of atom types ``(i, j, k)``."""
        return self._lookup(self.angle_types, types, "angle")

    def dihedral(self, types) -> InteractionType:
        """Dihedral type of atom types ``(i, j, k, l)``."""
        return self._lookup(self.dihedral_types, types, "dihedral")

    def lj_channel(self, type_i: str, type_j: str) -> int:
        """Voxel channel of the LJ interaction between two atom types."""
        hit = self.lj_channels.get((type_i, type_j), self.lj_channels.get((type_j, type_i)))
        if hit is None:
            raise KeyError(f"no lj type for atom types {type_i}-{type_j} in force field")
        return hit

    def lj_pair(self, type_i: str, type_j: str) -> tuple[float, float]:
        """Lorentz-Berthelot ``(sigma Å, epsilon eV)`` of a pair of atom types."""
        a, b = self.atom_types[type_i], self.atom_types[type_j]
        return 0.5 * (a.sigma + b.sigma), float(np.sqrt(a.epsilon * b.epsilon))

    def bead_channel(self, bead_type: str) -> int:
        """Voxel channel of a bead type: exact name, else the unique type with its first letter.

        The sPS files name bead types ``B``/``S`` in ff.txt but ``BB``/``SC`` in the map.
        """
        if bead_type in self.bead_channels:
            return self.bead_channels[bead_type]
        hits = [n for n in self.bead_channels if n[:1] == bead_type[:1]]
        if len(hits) != 1:
            raise KeyError(
                f"bead type {bead_type!r} not in force field (known: {sorted(self.bead_channels)})"
            )
        return self.bead_channels[hits[0]]


def read_forcefield(path) -> ForceField:
    """Read a DBM ``ff.txt`` force-field table.

    Parameters
    ----------
    path : str or Path
        File with sections ``[general]``, ``[atom_types]``, ``[bond_types]``,
        ``[angle_types]``, ``[dihedral_types]``, ``[lj_types]`` and ``[bead_types]``.

    Returns
    -------
    ForceField
        Parameters converted to Å, eV, rad, amu.
    """
    path = Path(path)
    sec = _sections(path)
    for required in ("general", "atom_types", "bond_types", "lj_types"):
        if required not in sec:
            raise ValueError(f"{path}: missing section [{required}]")
    name, nrexcl = sec["general"][0][1][0], int(sec["general"][0][1][1])
    atom_types = {}
    for number, tok in sec["atom_types"]:
        ch, mass, charge, sigma, eps = _floats(path, number, tok[1:6])
        atom_types[tok[0]] = AtomType(
            tok[0], int(ch), mass, charge, sigma * NM_TO_ANGSTROM, eps * KJMOL_EV
        )

    def table(section, n_types, kind):
        out = {}
        for number, tok in sec.get(section, []):
            types = tuple(tok[:n_types])
            unknown = [t for t in types if t not in atom_types]
            if unknown:
                raise ValueError(f"{path}:{number}: unknown atom type(s) {unknown} in [{section}]")
            channel, func = int(tok[n_types]), int(tok[n_types + 1])
            raw = _floats(path, number, tok[n_types + 2 :])
            params = _convert(kind, func, raw, f"{path}:{number}")
            out[types] = InteractionType(types, channel, func, params)
        return out

    lj = {}
    for _number, tok in sec["lj_types"]:
        lj[(tok[0], tok[1])] = int(tok[2])
    beads = {tok[0]: int(tok[1]) for _n, tok in sec.get("bead_types", [])}
    return ForceField(
        name=name,
        nrexcl=nrexcl,
        atom_types=atom_types,
        bond_types=table("bond_types", 2, "bond"),
        angle_types=table("angle_types", 3, "angle"),
        dihedral_types=table("dihedral_types", 4, "dihedral"),
        lj_channels=lj,
        bead_channels=beads,
    )


@dataclass
class Topology:
    """Atoms and bonded terms of one or more molecules (0-based atom indices).

    Attributes
    ----------
    atom_types : list of str, (N,)
    atom_names : list of str, (N,)
    bonds : ndarray of int, (B, 2)
    angles : ndarray of int, (A, 3)
    dihedrals : ndarray of int, (D, 4)
    dihedral_funcs : ndarray of int, (D,)   1 proper (periodic), 2 improper (harmonic)
    exclusions : ndarray of int, (E, 2)     explicit ``[exclusions]`` pairs, ``i < j``
    nrexcl : int                            exclude pairs up to this many bonds apart
    molecule_index : ndarray of int, (N,)   which molecule copy each atom belongs to
    """

    atom_types: list[str]
    atom_names: list[str]
    bonds: np.ndarray
    angles: np.ndarray
    dihedrals: np.ndarray
    dihedral_funcs: np.ndarray
    exclusions: np.ndarray
    nrexcl: int
    molecule_index: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.molecule_index is None:
            self.molecule_index = np.zeros(len(self.atom_types), dtype=int)

    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return len(self.atom_types)

    @property
    def symbols(self) -> list[str]:
        """Chemical symbols guessed from atom names (leading letters, e.g. ``C157`` -> C)."""
        return [re.match(r"[A-Za-z]", n).group(0).upper() for n in self.atom_names]

    def replicate(self, n_copies: int) -> Topology:
        """Topology of ``n_copies`` consecutive copies of this molecule."""
        n = self.n_atoms
        shift = (np.arange(n_copies) * n)[:, None, None]

        def rep(arr):
            return (arr[None] + shift).reshape(-1, arr.shape[1]) if len(arr) else arr

        return Topology(
            atom_types=self.atom_types * n_copies,
            atom_names=self.atom_names * n_copies,
            bonds=rep(self.bonds),
            angles=rep(self.angles),
            dihedrals=rep(self.dihedrals),
            dihedral_funcs=np.tile(self.dihedral_funcs, n_copies),
            exclusions=rep(self.exclusions),
            nrexcl=self.nrexcl,
            molecule_index=np.repeat(np.arange(n_copies), n),
        )

    def excluded_pairs(self) -> np.ndarray:
        """All non-bonded exclusions ``(E, 2)``, ``i < j``: graph distance <= nrexcl plus
        the explicit ``[exclusions]``."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import dijkstra

        n = self.n_atoms
        pairs = [self.exclusions.reshape(-1, 2)]
        if len(self.bonds) and self.nrexcl > 0:
            adj = coo_matrix(
                (np.ones(len(self.bonds)), (self.bonds[:, 0], self.bonds[:, 1])), shape=(n, n)
            ).tocsr()
            for mol in np.unique(self.molecule_index):  # molecules separately keeps it small
                idx = np.flatnonzero(self.molecule_index == mol)
                sub = adj[idx][:, idx]
                dist = dijkstra(sub, directed=False, unweighted=True, limit=self.nrexcl + 0.5)
                i, j = np.nonzero(np.triu(dist <= self.nrexcl, k=1))
                pairs.append(np.stack([idx[i], idx[j]], axis=1))
        allp = np.concatenate(pairs).astype(int)
        allp = np.sort(allp, axis=1)
        return np.unique(allp, axis=0) if len(allp) else allp.reshape(0, 2)


def read_itp(path) -> Topology:
    """Read one ``[moleculetype]`` of a GROMACS ``.itp`` file as a :class:`Topology`.

    Parsing is :func:`cgkit.mapping.gromacs.read_itp` (sections ``[moleculetype]``
    (nrexcl), ``[atoms]``, ``[bonds]``, ``[angles]``, ``[dihedrals]``, ``[exclusions]``;
    1-based indices in the file); malformed lines raise
    :class:`~cgkit.mapping.formats.MapFormatError` (a ``ValueError``) naming file and line.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Topology
        0-based atom indices. Exclusion lines ``i j k ...`` exclude ``i`` from each of
        ``j, k, ...``.
    """
    from cgkit.mapping.gromacs import read_itp as read_molecule

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"topology file not found: {path}")
    molecule = read_molecule(path)
    return Topology(
        atom_types=list(molecule.types),
        atom_names=list(molecule.names),
        bonds=molecule.bonds,
        angles=molecule.angles,
        dihedrals=molecule.dihedrals,
        dihedral_funcs=molecule.dihedral_funcs,
        exclusions=molecule.exclusions,
        nrexcl=molecule.nrexcl,
    )

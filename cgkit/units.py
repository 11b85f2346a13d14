"""Keys and units, defined once for the whole package.

Every array cgkit stores or returns is named by a key from :data:`KEYS`, and every
key has exactly one unit. Stores write the unit next to the array and readers refuse
arrays whose unit attribute is missing or differs from the one registered here.

Internal units follow ASE: positions in Å, energies in eV, forces in eV/Å, masses in amu,
time in fs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ase import units as _ase_units

#: Hartree in eV (CODATA via ASE).
HARTREE_EV: float = float(_ase_units.Hartree)
#: nm in Å.
NM_TO_ANGSTROM: float = 10.0
#: kJ/mol in eV.
KJMOL_EV: float = float(_ase_units.kJ / _ase_units.mol)
#: kcal/mol in eV.
KCALMOL_EV: float = float(_ase_units.kcal / _ase_units.mol)
#: Boltzmann constant in eV/K.
KB_EV: float = float(_ase_units.kB)


@dataclass(frozen=True)
class Key:
    """A named quantity with its unit and a one-line description."""

    name: str
    unit: str
    description: str
    per_atom: bool = False


_KEY_LIST = [
    Key("positions", "Å", "Cartesian coordinates", per_atom=True),
    Key("forces", "eV/Å", "negative energy gradient", per_atom=True),
    Key("velocities", "Å/fs", "atomic velocities", per_atom=True),
    Key("cell", "Å", "cell vectors as rows (3, 3)"),
    Key("pbc", "1", "periodic boundary flags (3,)"),
    Key("time", "fs", "simulation time of the frame"),
    Key("masses", "amu", "atomic masses", per_atom=True),
    Key("numbers", "1", "atomic numbers", per_atom=True),
    Key("energy", "eV", "total energy"),
    Key("homo", "eV", "highest occupied (or singly occupied) orbital energy"),
    Key("lumo", "eV", "lowest unoccupied orbital energy"),
    Key("gap", "eV", "LUMO - HOMO"),
    Key("homo_alpha", "eV", "highest occupied alpha-spin orbital energy"),
    Key("homo_beta", "eV", "highest occupied beta-spin orbital energy"),
    Key("lumo_alpha", "eV", "lowest unoccupied alpha-spin orbital energy"),
    Key("lumo_beta", "eV", "lowest unoccupied beta-spin orbital energy"),
    Key("dipole", "e*Å", "electric dipole moment (3,)"),
    Key("bead_positions", "Å", "CG bead centres", per_atom=True),
    Key("bead_forces", "eV/Å", "forces mapped onto beads", per_atom=True),
]

#: Registry of every stored/returned quantity: name -> :class:`Key`.
KEYS: dict[str, Key] = {k.name: k for k in _KEY_LIST}


def unit_of(name: str) -> str:
    """Return the registered unit of quantity ``name``.

    Labels that are not registered (for example a user's custom property) must carry
    their own unit; this function raises ``KeyError`` for them so callers notice.
    """
    try:
        return KEYS[name].unit
    except KeyError:
        raise KeyError(
            f"quantity {name!r} has no registered unit; pass unit=... explicitly "
            f"(known: {', '.join(sorted(KEYS))})"
        ) from None

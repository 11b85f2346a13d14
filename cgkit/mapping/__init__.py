"""CG maps: linear maps of N atoms onto M beads (:class:`CGMap`).

* :class:`CGMap` -- the map ``R = W r`` with constructors ``from_groups``, ``decimation``,
  ``read`` (cgkit JSON, DKL-ECG text, DBM ``[map]``) and ``repeat`` (many molecules);
  maps positions (periodic-aware), forces and ``ase.Atoms``.
* :mod:`cgkit.mapping.topology` -- CG bonds/angles/dihedrals from atom bonds.
* :mod:`cgkit.mapping.pbc` -- minimum images and wrapping in triclinic cells.
* :func:`polystyrene_fritz_map` -- Fritz et al.'s polystyrene map with shared atoms.
"""

from cgkit.mapping.cgmap import CGMap
from cgkit.mapping.formats import MapFormatError
from cgkit.mapping.pbc import make_whole, minimum_image, wrap_positions
from cgkit.mapping.polystyrene import polystyrene_fritz_map

__all__ = [
    "CGMap",
    "MapFormatError",
    "make_whole",
    "minimum_image",
    "wrap_positions",
    "polystyrene_fritz_map",
]

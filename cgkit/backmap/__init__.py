"""CG -> all-atom backmapping.

* :class:`DBMBackmapper` -- deep backmapping (Stieffenhofer et al. 2020): autoregressive
  conditional WGAN over voxelised local environments.
* :class:`GeometricBackmapper` -- baseline: atoms at their bead plus noise, then energy
  minimisation with the force field.
* :class:`ForceFieldRelaxer` -- staged force-field minimisation (Atoms -> Atoms);
  :class:`RelaxedBackmapper` runs it after any backmapper.
* :mod:`~cgkit.backmap.forcefield` (``read_itp``, ``read_forcefield``),
  :mod:`~cgkit.backmap.energy` (torch force-field terms), :mod:`~cgkit.backmap.voxel`
  (Gaussian densities on grids), :mod:`~cgkit.backmap.metrics` (structural comparison).
* :class:`TemporalVAEBackmapper` -- temporally coherent trajectory backmapping with a
  conditional VAE (Shmilovich et al.); :class:`LibraryBackmapper` -- its frame-library baseline.
"""

from cgkit.backmap.dbm import DBMBackmapper, DBMConfig
from cgkit.backmap.energy import ForceFieldEnergy
from cgkit.backmap.forcefield import ForceField, Topology, read_forcefield, read_itp
from cgkit.backmap.geometric import GeometricBackmapper
from cgkit.backmap.projection import project_to_beads
from cgkit.backmap.relax import ForceFieldRelaxer, RelaxedBackmapper, RelaxStage
from cgkit.backmap.temporal import LibraryBackmapper, TemporalVAEBackmapper, TemporalVAEConfig

__all__ = [
    "LibraryBackmapper",
    "TemporalVAEBackmapper",
    "TemporalVAEConfig",
    "DBMBackmapper",
    "DBMConfig",
    "ForceField",
    "ForceFieldEnergy",
    "ForceFieldRelaxer",
    "RelaxedBackmapper",
    "RelaxStage",
    "GeometricBackmapper",
    "Topology",
    "project_to_beads",
    "read_forcefield",
    "read_itp",
]

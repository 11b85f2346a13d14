"""Sampling of molecular configurations for dataset generation.

- :func:`run_md` -- canonical MD with ASE (Langevin at fixed centre of mass, or Bussi),
  frames streamed into a store.
- :func:`from_smiles`, :func:`read_structure` -- starting structures from SMILES
  (RDKit ETKDG + MMFF) or any file ASE reads.
- :class:`MDSource`, :class:`FramesSource`, :func:`frames_from_file` -- frame sources of
  the dataset builder (:class:`cgkit.data.builder.DatasetBuilder`).
- :class:`Recipe` -- a dataset recipe (``datasets/*.toml``) as a typed dataclass.
- :func:`constrained_md`, :func:`unbias` -- all-atom MD restrained to one CG configuration
  and its reweighting (DKL-ECG eq. 17).
- :func:`umbrella_windows`, :class:`CGDihedralUmbrella` -- all-atom MD biased along a CG
  dihedral (frames of rare CG configurations; p(E|R) is unchanged by a bias on R).
- :func:`simulate_peptide` -- capped peptides (alanine dipeptide, ...) with OpenMM amber14
  (extra ``[md]``), frames into a store.
"""

from cgkit.sampling.constrained import (
    PAPER_FORCE_CONSTANT,
    ConstrainedSample,
    RestrainedCalculator,
    align_to_beads,
    constrained_md,
    unbias,
)
from cgkit.sampling.md import THERMOSTATS, MDResult, make_dynamics, run_md
from cgkit.sampling.openmm_md import (
    PeptideStructure,
    backbone_map,
    capped_peptide,
    create_openmm_system,
    run_openmm_md,
    simulate_peptide,
)
from cgkit.sampling.recipe import Recipe, RecipeError
from cgkit.sampling.sources import FramesSource, MDSource, frames_from_file, replica_tail_split
from cgkit.sampling.structures import from_smiles, read_structure, smiles_multiplicity
from cgkit.sampling.umbrella import CGDihedralUmbrella, UmbrellaSample, umbrella_windows

__all__ = [
    "PAPER_FORCE_CONSTANT",
    "ConstrainedSample",
    "PeptideStructure",
    "RestrainedCalculator",
    "THERMOSTATS",
    "align_to_beads",
    "backbone_map",
    "capped_peptide",
    "constrained_md",
    "create_openmm_system",
    "run_openmm_md",
    "simulate_peptide",
    "unbias",
    "FramesSource",
    "MDResult",
    "MDSource",
    "Recipe",
    "RecipeError",
    "frames_from_file",
    "from_smiles",
    "make_dynamics",
    "read_structure",
    "replica_tail_split",
    "run_md",
    "smiles_multiplicity",
    "CGDihedralUmbrella",
    "UmbrellaSample",
    "umbrella_windows",
]

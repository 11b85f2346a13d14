"""Iterative Boltzmann inversion (IBI) of CG potentials and CG MD in ASE.

Closes the DKL-ECG loop at the CG resolution: mapped AA distributions -> tabulated CG
potentials -> CG trajectories -> ECG density of states. The result is an ASE calculator,
:class:`cgkit.calculators.TabulatedCGCalculator`.
"""

from cgkit.ibi.coordinates import coordinate_gradients, internal_coordinates, jacobian
from cgkit.ibi.dos import cg_only_dos, trajectory_bead_positions
from cgkit.ibi.forcefield import TabulatedForceField
from cgkit.ibi.iterate import IBIConfig, IterativeBoltzmannInversion, run_cg_md
from cgkit.ibi.metrics import js_divergence, l1_norm
from cgkit.ibi.potentials import (
    TabulatedPotential,
    boltzmann_inversion,
    extrapolate,
    histogram_density,
    ibi_update,
)
from cgkit.ibi.splines import StackedSplines
from cgkit.ibi.topology import (
    InteractionSet,
    cg_interactions,
    coordinate_spread,
    default_grid,
    independent_interactions,
    stiffest_first,
    without_ring_angles,
)
from cgkit.ibi.workflow import map_interactions, run_ibi

__all__ = [
    "IBIConfig",
    "InteractionSet",
    "IterativeBoltzmannInversion",
    "StackedSplines",
    "TabulatedForceField",
    "TabulatedPotential",
    "boltzmann_inversion",
    "cg_interactions",
    "cg_only_dos",
    "coordinate_gradients",
    "coordinate_spread",
    "default_grid",
    "extrapolate",
    "histogram_density",
    "ibi_update",
    "independent_interactions",
    "internal_coordinates",
    "jacobian",
    "js_divergence",
    "l1_norm",
    "map_interactions",
    "run_cg_md",
    "run_ibi",
    "stiffest_first",
    "trajectory_bead_positions",
    "without_ring_angles",
]

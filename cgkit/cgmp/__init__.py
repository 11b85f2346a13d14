"""Continuously gated message passing (CGMP; Maier, Wang & Jackson, J. Chem. Phys. 160,
024109, 2024): one-shot importance ranking of atoms for a molecular property.

Modules
-------
geometry   radius graph with score-aware distances, differentiable reference vectors, angles
basis      spherical Bessel x spherical harmonic edge bases (ComENet)
layers     gated interaction block
model      :class:`CGMPModel` and :class:`CGMPConfig`
loss       CGMP loss (:class:`LossConfig`, :func:`cgmp_loss`)
schedule   :class:`ResolutionSchedule`
training   training/evaluation loops, fixed-map baseline :func:`fit_fixed_atoms`
inputs     :func:`load_property_data` (arrays, ``.npz``, cgkit store)
ranker     :class:`CGMPRanker` estimator
entropy    :func:`mapping_entropy` over repeated runs
plots      heat map and R^2 curves
"""

from cgkit.cgmp.entropy import MappingEntropy, mapping_entropy
from cgkit.cgmp.inputs import PropertyData, load_property_data
from cgkit.cgmp.loss import LossConfig, cgmp_loss
from cgkit.cgmp.model import CGMPConfig, CGMPModel
from cgkit.cgmp.ranker import CGMPRanker
from cgkit.cgmp.schedule import ResolutionSchedule
from cgkit.cgmp.training import fit_fixed_atoms, r2_score

__all__ = [
    "CGMPConfig",
    "CGMPModel",
    "CGMPRanker",
    "LossConfig",
    "MappingEntropy",
    "PropertyData",
    "ResolutionSchedule",
    "cgmp_loss",
    "fit_fixed_atoms",
    "load_property_data",
    "mapping_entropy",
    "r2_score",
]

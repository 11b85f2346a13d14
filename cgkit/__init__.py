"""cgkit: coarse-graining methods for ASE workflows.

Subpackages
-----------
mapping      CG maps (:class:`cgkit.CGMap`)
features     distance-matrix featurisation for CG models
data         HDF5/Zarr dataset store, importers and the dataset builder
qc           quantum-chemical labelers (GFN2-xTB, PySCF DFT)
sampling     MD sampling helpers
ecg          electronic coarse-graining with deep-kernel GPs
cgmp         continuously gated message passing
backmap      CG -> all-atom backmapping
calculators  ASE calculators wrapping the models

Heavy subpackages (torch, gpytorch, torch_geometric) are imported lazily.
"""

from __future__ import annotations

from cgkit._version import __version__

__all__ = ["__version__", "CGMap"]


def __getattr__(name: str):
    if name == "CGMap":
        from cgkit.mapping import CGMap

        return CGMap
    raise AttributeError(f"module 'cgkit' has no attribute {name!r}")

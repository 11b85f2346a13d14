"""ASE calculators wrapping cgkit models (adapters only: Atoms -> tensors -> model -> results).

Names are imported lazily so ``import cgkit.calculators`` does not import torch.
"""

from __future__ import annotations

_LAZY = {
    "ECGCalculator": "cgkit.calculators.ecg",
    "CGMPCalculator": "cgkit.calculators.cgmp",
    "TabulatedCGCalculator": "cgkit.calculators.tabulated",
    "load": "cgkit.calculators.zoo",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cgkit.calculators' has no attribute {name!r}")

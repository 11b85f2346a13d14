"""Lazy imports of optional heavy backends with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

#: module name -> pip extra that provides it
EXTRAS: dict[str, str] = {
    "pyscf": "dft",
    "dask": "distributed",
    "distributed": "distributed",
    "openmm": "md",
}


class MissingExtraError(ImportError):
    """An optional backend is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"pyscf"`` or ``"dask.distributed"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        hint = f'pip install "cgkit[{extra}]"' if extra else f"pip install {top}"
        raise MissingExtraError(
            f"{module!r} is needed for this feature but is not installed; install it with: {hint}"
        ) from exc

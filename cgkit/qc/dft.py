"""Kohn-Sham DFT labels through PySCF (optional extra ``[dft]``)."""

from __future__ import annotations

import numpy as np
from ase.units import Bohr, Hartree

from cgkit._optional import require
from cgkit.qc.base import LabelingError, SCFConvergenceError, limit_threads, orbital_properties

#: Functional spellings used by other codes (ORCA, Gaussian) -> libxc names PySCF accepts.
XC_ALIASES: dict[str, str] = {
    "wb97x-d3": "HYB_GGA_XC_WB97X_D3",
    "wb97x-d": "HYB_GGA_XC_WB97X_D",
    "wb97x-v": "HYB_GGA_XC_WB97X_V",
    "b3lyp-d3": "B3LYP",
    "pbe0-d3": "PBE0",
}

_ALL_PROPERTIES = ("energy", "forces", "homo", "lumo", "gap", "dipole")
_CHANNELS = ("homo_alpha", "homo_beta", "lumo_alpha", "lumo_beta")


def resolve_xc(xc: str) -> str:
    """Return the PySCF/libxc name of functional ``xc`` (e.g. ``wb97x-d3``)."""
    return XC_ALIASES.get(xc.strip().lower(), xc)


class PySCFLabeler:
    """Label structures with Kohn-Sham DFT in PySCF.

    Restricted (RKS) for singlets, unrestricted (UKS) otherwise. Empirical dispersion
    corrections named in ``xc`` (``-d3``) are not added to the energy; they do not change
    orbital energies.

    Parameters
    ----------
    xc : str
        Functional, libxc or PySCF name; ``wb97x-d3`` means ``HYB_GGA_XC_WB97X_D3``.
    basis : str
        Basis set name, e.g. ``def2-svp``.
    density_fit : bool
        Use density fitting (RI-JK) with PySCF's default auxiliary basis.
    charge, multiplicity : int
        Total charge and spin multiplicity 2S+1.
    properties : tuple of str, optional
        Subset of ``energy, forces, homo, lumo, gap, dipole`` to compute; forces cost an
        extra nuclear gradient. Default: all of them.
    conv_tol : float
        SCF energy convergence threshold in Hartree.
    max_cycle : int
        SCF iteration limit of the first attempt. Retries double it and add a level
        shift of 0.2 Hartree and damping of 0.3.
    grid_level : int
        PySCF integration grid level.
    threads : int
        OpenMP/BLAS threads (PySCF ``lib.num_threads`` and process-wide pools).
    """

    program = "pyscf"

    def __init__(
        self,
        xc: str,
        basis: str,
        density_fit: bool = True,
        charge: int = 0,
        multiplicity: int = 1,
        properties: tuple[str, ...] | None = None,
        conv_tol: float = 1e-9,
        max_cycle: int = 100,
        grid_level: int = 3,
        threads: int = 1,
    ):
        if int(multiplicity) < 1:
            raise ValueError(f"multiplicity must be >= 1, got {multiplicity}")
        requested = tuple(properties) if properties is not None else _ALL_PROPERTIES
        unknown = set(requested) - set(_ALL_PROPERTIES)
        if unknown:
            raise ValueError(f"unknown properties {sorted(unknown)}; choose from {_ALL_PROPERTIES}")
        self.xc = xc
        self.basis = basis
        self.density_fit = bool(density_fit)
        self.charge = int(charge)
        self.multiplicity = int(multiplicity)
        self.requested = requested
        self.conv_tol = float(conv_tol)
        self.max_cycle = int(max_cycle)
        self.grid_level = int(grid_level)
        self.threads = int(threads)
        limit_threads(self.threads)

    @property
    def method(self) -> str:
        """Method string for provenance, e.g. ``wb97x-d3/def2-svp (RI)``."""
        return f"{self.xc}/{self.basis}" + (" (RI)" if self.density_fit else "")

    @property
    def program_version(self) -> str:
        """Installed PySCF version."""
        return require("pyscf").__version__

    @property
    def properties(self) -> tuple[str, ...]:
        """Names of the returned properties."""
        names = self.requested
        if self.multiplicity > 1 and "homo" in names:
            names += _CHANNELS
        return names

    def to_dict(self) -> dict:
        """JSON-able configuration; :func:`cgkit.qc.labeler_from_dict` rebuilds it."""
        return {
            "kind": "pyscf",
            "xc": self.xc,
            "basis": self.basis,
            "density_fit": self.density_fit,
            "charge": self.charge,
            "multiplicity": self.multiplicity,
            "properties": list(self.requested),
            "conv_tol": self.conv_tol,
            "max_cycle": self.max_cycle,
            "grid_level": self.grid_level,
            "threads": self.threads,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"PySCFLabeler({args})"

    def _mean_field(self, atoms, attempt: int):
        pyscf = require("pyscf")
        from pyscf import dft, gto

        pyscf.lib.num_threads(self.threads)
        mol = gto.M(
            atom=[
                (s, tuple(p))
                for s, p in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)
            ],
            unit="Angstrom",
            basis=self.basis,
            charge=self.charge,
            spin=self.multiplicity - 1,
            verbose=0,
        )
        mf = dft.RKS(mol) if self.multiplicity == 1 else dft.UKS(mol)
        mf.xc = resolve_xc(self.xc)
        mf.grids.level = self.grid_level
        mf.conv_tol = self.conv_tol
        mf.max_cycle = self.max_cycle * (2 if attempt > 0 else 1)
        if attempt > 0:
            mf.level_shift = 0.2
            mf.damp = 0.3
        if self.density_fit:
            mf = mf.density_fit()
        return mf

    def __call__(self, atoms, attempt: int = 0) -> dict[str, np.ndarray]:
        """Run one SCF (and a gradient if forces are requested) on ``atoms``.

        Raises
        ------
        SCFConvergenceError
            when the SCF does not converge within ``max_cycle``.
        LabelingError
            on any other failure inside PySCF.
        """
        if np.any(atoms.pbc):
            raise LabelingError("PySCFLabeler handles molecules only (atoms.pbc must be False)")
        try:
            mf = self._mean_field(atoms, attempt)
            energy = mf.kernel()
        except Exception as exc:  # report any PySCF crash as a labelling error
            raise LabelingError(f"pyscf {self.method}: {type(exc).__name__}: {exc}") from exc
        if not mf.converged:
            raise SCFConvergenceError(
                f"pyscf {self.method}: SCF not converged in {mf.max_cycle} cycles"
            )
        out: dict[str, np.ndarray] = {"energy": np.asarray(energy * Hartree)}
        if "forces" in self.requested:
            try:
                gradient = mf.nuc_grad_method().kernel()
            except Exception as exc:
                raise LabelingError(f"pyscf {self.method} gradient: {exc}") from exc
            out["forces"] = -np.asarray(gradient) * (Hartree / Bohr)
        if "dipole" in self.requested:
            out["dipole"] = np.asarray(mf.dip_moment(unit="AU", verbose=0)) * Bohr
        orbitals = orbital_properties(np.asarray(mf.mo_energy) * Hartree, np.asarray(mf.mo_occ))
        out.update({k: np.asarray(v) for k, v in orbitals.items()})
        return {k: out[k] for k in self.properties}

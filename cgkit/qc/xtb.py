"""GFN-xTB labels (energy, forces, frontier orbitals, dipole) through tblite."""

from __future__ import annotations

import numpy as np
from ase.units import Bohr, Hartree

from cgkit.qc.base import LabelingError, SCFConvergenceError, limit_threads, orbital_properties

_METHODS = ("GFN2-xTB", "GFN1-xTB", "IPEA1-xTB")


class XTBLabeler:
    """Label structures with tblite's extended tight-binding methods.

    Parameters
    ----------
    method : str
        ``"GFN2-xTB"``, ``"GFN1-xTB"`` or ``"IPEA1-xTB"``.
    charge : int
        Total charge.
    multiplicity : int
        Spin multiplicity 2S+1 (``uhf = multiplicity - 1`` unpaired electrons).
    spin_polarization : float, optional
        Scaling factor of tblite's spin-polarisation interaction. ``None`` (default)
        uses 1.0 for open shells (both spin channels reported) and none for closed
        shells; ``0.0`` forces a restricted open-shell treatment.
    electronic_temperature : float
        Fermi smearing temperature in K (tblite default 300 K).
    max_iterations : int
        SCF iteration limit of the first attempt; retries double it and halve the
        mixer damping.
    threads : int
        OpenMP/BLAS threads this labeler may use (set process-wide on construction).

    Calling the labeler on an :class:`ase.Atoms` returns ``energy`` (eV), ``forces``
    (N, 3) eV/Å, ``homo``/``lumo``/``gap`` (eV), ``dipole`` (3,) e*Å and, for
    spin-polarised open shells, ``homo_alpha``/``homo_beta``/``lumo_alpha``/``lumo_beta``.
    """

    program = "tblite"

    def __init__(
        self,
        method: str = "GFN2-xTB",
        charge: int = 0,
        multiplicity: int = 1,
        spin_polarization: float | None = None,
        electronic_temperature: float = 300.0,
        max_iterations: int = 250,
        threads: int = 1,
    ):
        if method not in _METHODS:
            raise ValueError(f"unknown xTB method {method!r}; expected one of {_METHODS}")
        if int(multiplicity) < 1:
            raise ValueError(f"multiplicity must be >= 1, got {multiplicity}")
        self.method = method
        self.charge = int(charge)
        self.multiplicity = int(multiplicity)
        self.spin_polarization = spin_polarization
        self.electronic_temperature = float(electronic_temperature)
        self.max_iterations = int(max_iterations)
        self.threads = int(threads)
        limit_threads(self.threads)
        self._calculators: dict = {}

    @property
    def program_version(self) -> str:
        """Installed tblite version."""
        from importlib.metadata import version

        return version("tblite")

    @property
    def _spin_scale(self) -> float:
        if self.spin_polarization is None:
            return 1.0 if self.multiplicity > 1 else 0.0
        return float(self.spin_polarization)

    @property
    def properties(self) -> tuple[str, ...]:
        """Names of the returned properties."""
        names = ("energy", "forces", "homo", "lumo", "gap", "dipole")
        if self._spin_scale > 0:
            names += ("homo_alpha", "homo_beta", "lumo_alpha", "lumo_beta")
        return names

    def to_dict(self) -> dict:
        """JSON-able configuration; :func:`cgkit.qc.labeler_from_dict` rebuilds it."""
        return {
            "kind": "xtb",
            "method": self.method,
            "charge": self.charge,
            "multiplicity": self.multiplicity,
            "spin_polarization": self.spin_polarization,
            "electronic_temperature": self.electronic_temperature,
            "max_iterations": self.max_iterations,
            "threads": self.threads,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"XTBLabeler({args})"

    def __getstate__(self) -> dict:
        # tblite calculators wrap C pointers: send the configuration, rebuild lazily
        return self.to_dict()

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state.pop("kind")
        self.__init__(**state)

    def _calculator(self, atoms, attempt: int):
        from tblite.interface import Calculator

        numbers = np.asarray(atoms.numbers)
        periodic = bool(np.any(atoms.pbc))
        key = (tuple(numbers.tolist()), periodic, attempt > 0)
        calc = self._calculators.get(key)
        if calc is None:
            calc = Calculator(
                self.method,
                numbers,
                np.asarray(atoms.positions) / Bohr,
                charge=float(self.charge),
                uhf=self.multiplicity - 1,
                lattice=np.asarray(atoms.cell.array) / Bohr if periodic else None,
                periodic=np.asarray(atoms.pbc) if periodic else None,
            )
            calc.set("verbosity", 0)
            calc.set("temperature", self.electronic_temperature * 3.166808578545117e-6)
            calc.set("max-iter", self.max_iterations * (2 if attempt > 0 else 1))
            if attempt > 0:
                calc.set("mixer-damping", 0.2)
            if self._spin_scale > 0:
                calc.add("spin-polarization", self._spin_scale)
            self._calculators[key] = calc
        return calc

    def __call__(self, atoms, attempt: int = 0) -> dict[str, np.ndarray]:
        """Single point on ``atoms``; see the class docstring for the returned keys.

        Raises
        ------
        SCFConvergenceError
            when the SCF does not converge.
        LabelingError
            on any other failure inside tblite.
        """
        from tblite.exceptions import TBLiteRuntimeError, TBLiteValueError

        positions = np.asarray(atoms.positions, dtype=float)
        if not np.all(np.isfinite(positions)):
            raise LabelingError("positions contain NaN or inf")
        calc = self._calculator(atoms, attempt)
        try:
            calc.update(
                positions=positions / Bohr,
                lattice=np.asarray(atoms.cell.array) / Bohr if np.any(atoms.pbc) else None,
            )
            result = calc.singlepoint()
        except (TBLiteRuntimeError, TBLiteValueError) as exc:
            if "not converged" in str(exc).lower():
                raise SCFConvergenceError(f"tblite {self.method}: {exc}") from exc
            raise LabelingError(f"tblite {self.method}: {exc}") from exc
        orbitals = orbital_properties(
            result.get("orbital-energies") * Hartree, result.get("orbital-occupations")
        )
        out = {
            "energy": np.asarray(result.get("energy") * Hartree),
            "forces": -np.asarray(result.get("gradient")) * (Hartree / Bohr),
            "dipole": np.asarray(result.get("dipole")) * Bohr,
        }
        out.update({k: np.asarray(v) for k, v in orbitals.items()})
        return {k: out[k] for k in self.properties}

"""The CGMP network: per-atom gates, gated ComENet-style message passing, gated pooling.

One model describes one molecule (the same atoms in the same order in every frame). Each
atom ``i`` owns learnable features ``x_i = (x_i1, x_i2)``: an embedding ``x_i1`` and a gate
logit ``x_i2`` (CGMP eqs. 1-4)::

    g_i = sigmoid(x_i2 + lambda eps)                                   (1-3)
    z_i^(0) = tanh(x_i1) g_i + lambda_1 eps_1 (1 - g_i) + lambda_2 eps_2   (4)

Edges use the score-aware distance of eq. 5 (so atoms with small gates leave the radius
graph), messages carry the edge gate ``(g_i g_j)^2`` (eq. 7), interactions update nodes with
a gated residual (eqs. 8-10) and the output is a gated sum with noise (eq. 11)::

    y = sum_i g_i [E_i + lambda_p eps_i (1 - g_i)] + b,

where the pooling noise vanishes for atoms that are fully on or fully off, so it penalises
undecided gates without putting a noise floor on the loss at low resolution.

All noise terms are drawn only when ``noise=True`` (training); evaluation is deterministic.
The gate used by the regulariser (:mod:`cgkit.cgmp.loss`) is the noise-free ``sigmoid(x_i2)``.

Atoms dropped by the resolution schedule are switched off for good with
:meth:`CGMPModel.remove_atoms`: their gates become exactly 0 (with and without noise), so they
leave the graph, the pooling and the count of the regulariser, and the gate optimiser cannot
bring them back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from cgkit.cgmp.basis import AngleBasis, TorsionBasis
from cgkit.cgmp.geometry import edge_angles, radius_graph
from cgkit.cgmp.layers import GatedInteraction


@dataclass
class CGMPConfig:
    """Hyperparameters of :class:`CGMPModel`.

    Attributes
    ----------
    n_atoms : int
        Number of atoms the model describes (e.g. 16 heavy atoms of bithiophene).
    hidden : int
        Node feature size.
    layers : int
        Number of gated interactions.
    cutoff : float
        Radius-graph cutoff ``r_C``, Å.
    n_radial, n_spherical : int
        ``K`` Bessel roots and ``L`` harmonic degrees of the edge bases.
    middle : int
        Middle size of the two-layer basis projections.
    n_residual : int
        Residual dense layers per interaction.
    softness : float
        Soft-min length scale of the reference vectors, Å.
    gate_init : float
        Initial gate logit ``x_i2`` (4 gives ``g ~ 0.98``).
    noise_gate, noise_off, noise_all, noise_pool : float
        ``lambda`` (gate logit), ``lambda_1`` (replaces switched-off atoms), ``lambda_2``
        (every atom) and ``lambda_p`` (pooling) noise scales, in units of the standardised
        features and target.
    """

    n_atoms: int
    hidden: int = 32
    layers: int = 3
    cutoff: float = 5.0
    n_radial: int = 6
    n_spherical: int = 3
    middle: int = 16
    n_residual: int = 1
    softness: float = 0.3
    gate_init: float = 4.0
    noise_gate: float = 1.0
    noise_off: float = 1.0
    noise_all: float = 0.02
    noise_pool: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CGMPConfig:
        return cls(**data)


class CGMPModel(nn.Module):
    """Continuously gated message passing network for one molecule.

    Parameters
    ----------
    config : CGMPConfig
    """

    def __init__(self, config: CGMPConfig):
        super().__init__()
        if config.n_atoms < 2:
            raise ValueError(f"CGMP needs at least 2 atoms, got n_atoms={config.n_atoms}")
        self.config = config
        self.atom_embedding = nn.Parameter(torch.randn(config.n_atoms, config.hidden))
        self.gate_logits = nn.Parameter(torch.full((config.n_atoms,), float(config.gate_init)))
        self.register_buffer("present", torch.ones(config.n_atoms))
        self.torsion_basis = TorsionBasis(config.n_radial, config.n_spherical, config.cutoff)
        self.angle_basis = AngleBasis(config.n_radial, config.n_spherical, config.cutoff)
        self.interactions = nn.ModuleList(
            GatedInteraction(
                config.hidden,
                self.torsion_basis.n_features,
                self.angle_basis.n_features,
                config.middle,
                config.n_residual,
            )
            for _ in range(config.layers)
        )
        self.readout = nn.Sequential(
            nn.Linear(config.hidden, config.hidden), nn.SiLU(), nn.Linear(config.hidden, 1)
        )
        self.output_bias = nn.Parameter(torch.zeros(()))

    def gates(self) -> torch.Tensor:
        """Noise-free gates ``sigmoid(x_i2)`` (0 for removed atoms), shape (n_atoms,)."""
        return torch.sigmoid(self.gate_logits) * self.present

    @torch.no_grad()
    def remove_atoms(self, atoms) -> None:
        """Switch ``atoms`` (indices into the model's atoms) off for good: gate exactly 0.

        Parameters
        ----------
        atoms : sequence of int or LongTensor, shape (k,)
        """
        atoms = torch.as_tensor(atoms, dtype=torch.long, device=self.present.device)
        if atoms.numel() and (atoms.min() < 0 or atoms.max() >= self.config.n_atoms):
            raise IndexError(
                f"atom index out of range 0..{self.config.n_atoms - 1}: {atoms.tolist()}"
            )
        self.present[atoms] = 0.0

    def forward(
        self,
        positions: torch.Tensor,
        atom_ids: torch.Tensor | None = None,
        gates: torch.Tensor | None = None,
        noise: bool = False,
    ) -> dict:
        """Predict the (standardised) property of a batch of frames.

        Parameters
        ----------
        positions : Tensor, shape (B, n, 3), Å
            Positions of the atoms ``atom_ids`` (all ``n_atoms`` atoms when None).
        atom_ids : LongTensor, shape (n,), optional
            Which of the model's atoms are present, in the order of ``positions``.
        gates : Tensor, shape (n,), optional
            Gate values to use instead of the learned ones (and of :meth:`remove_atoms`).
        noise : bool
            Draw the training noise of eqs. 1-4, 8-11.

        Returns
        -------
        dict with ``prediction`` (B,), ``atom_outputs`` (B, n) gated contributions
        ``g_i E_i``, ``raw_atom_outputs`` (B, n) ``E_i`` and ``gates`` (B, n) as used.
        """
        cfg = self.config
        n_frames, n_present, _ = positions.shape
        if atom_ids is None:
            atom_ids = torch.arange(cfg.n_atoms, device=positions.device)
        if atom_ids.shape[0] != n_present:
            raise ValueError(
                f"positions hold {n_present} atoms per frame but atom_ids has {atom_ids.shape[0]}"
            )
        if gates is None:
            logits = self.gate_logits[atom_ids].expand(n_frames, -1)
            if noise:
                logits = logits + cfg.noise_gate * torch.randn_like(logits)
            gates = torch.sigmoid(logits) * self.present[atom_ids]
        else:
            gates = gates.to(positions.dtype).expand(n_frames, -1)
        gates_flat = gates.reshape(-1)
        off = (1.0 - gates_flat)[:, None]

        edge_index, distance = radius_graph(positions, gates, cfg.cutoff)
        positions_flat = positions.reshape(-1, 3)
        theta, phi, tau = edge_angles(positions_flat, gates_flat, edge_index, cfg.softness)
        torsion = self.torsion_basis(distance, theta, phi)
        angle = self.angle_basis(distance, tau)
        edge_gates = (gates_flat[edge_index[0]] * gates_flat[edge_index[1]]) ** 2

        embedding = self.atom_embedding[atom_ids].expand(n_frames, -1, -1).reshape(-1, cfg.hidden)
        z = torch.tanh(embedding) * gates_flat[:, None]
        z = z + self._noise(z, noise, cfg.noise_off) * off + self._noise(z, noise, cfg.noise_all)
        for interaction in self.interactions:
            update = interaction(z, torsion, angle, edge_index, edge_gates)
            z = gates_flat[:, None] * (z + update)
            z = z + self._noise(z, noise, cfg.noise_off) * off
            z = z + self._noise(z, noise, cfg.noise_all)

        raw = self.readout(z).reshape(n_frames, n_present)
        contributions = gates * raw
        pooled = contributions
        if noise:
            pooled = pooled + gates * (1.0 - gates) * cfg.noise_pool * torch.randn_like(raw)
        prediction = pooled.sum(-1) + self.output_bias
        return {
            "prediction": prediction,
            "atom_outputs": contributions,
            "raw_atom_outputs": raw,
            "gates": gates,
        }

    @staticmethod
    def _noise(like: torch.Tensor, active: bool, scale: float):
        if not active or scale == 0.0:
            return 0.0
        return scale * torch.randn_like(like)

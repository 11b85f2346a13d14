"""Gated interaction block of CGMP (ComENet-style message passing with gates, eqs. 7-10)."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter


class TwoLayerLinear(nn.Module):
    """Bias-free two-layer projection of an edge basis (ComENet's ``TwoLayerLinear``).

    Without biases a zero basis (an edge at the cutoff) gives a zero filter.
    """

    def __init__(self, in_features: int, middle: int, out_features: int):
        super().__init__()
        self.first = nn.Linear(in_features, middle, bias=False)
        self.second = nn.Linear(middle, out_features, bias=False)

    def forward(self, basis: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(basis))


class GatedInteraction(nn.Module):
    """One CGMP interaction: two filtered convolutions, residual MLP, gated update.

    Messages ``m_ij = g_ij F(e_ij) * W z_j`` use the edge gate ``g_ij = (g_i g_j)^2`` (eq. 7)
    and the two ComENet edge bases. The node update (eqs. 8-10) is gated with a residual,

        z_i <- g_i (z_i + U(z_i, sum_j m_ij)) + lambda_1 eps_1 (1 - g_i) + lambda_2 eps_2,

    so that an atom with gate 0 keeps the (noise-only) state of an absent atom.

    Parameters
    ----------
    hidden : int
        Node feature size.
    torsion_features, angle_features : int
        Sizes of the ``(d, theta, phi)`` and ``(d, tau)`` bases.
    middle : int
        Middle size of the basis projections.
    n_residual : int
        Residual dense layers after the convolutions.
    """

    def __init__(
        self,
        hidden: int,
        torsion_features: int,
        angle_features: int,
        middle: int,
        n_residual: int = 1,
    ):
        super().__init__()
        self.act = nn.SiLU()
        self.lin_in = nn.Linear(hidden, hidden)
        self.filter_torsion = TwoLayerLinear(torsion_features, middle, hidden)
        self.filter_angle = TwoLayerLinear(angle_features, middle, hidden)
        self.rel_torsion = nn.Linear(hidden, hidden)
        self.root_torsion = nn.Linear(hidden, hidden, bias=False)
        self.rel_angle = nn.Linear(hidden, hidden)
        self.root_angle = nn.Linear(hidden, hidden, bias=False)
        self.lin_cat = nn.Linear(2 * hidden, hidden)
        self.residual = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(n_residual))
        self.lin_out = nn.Linear(hidden, hidden)

    def forward(
        self,
        node_features: torch.Tensor,
        torsion_basis: torch.Tensor,
        angle_basis: torch.Tensor,
        edge_index: torch.Tensor,
        edge_gates: torch.Tensor,
    ) -> torch.Tensor:
        """Return the update ``U`` of eq. 8, shape (T, hidden), before gating."""
        centre, neighbour = edge_index
        n_nodes = node_features.shape[0]
        x = self.act(self.lin_in(node_features))
        source = x[neighbour] * edge_gates[:, None]
        h_torsion = scatter(
            self.filter_torsion(torsion_basis) * source, centre, 0, dim_size=n_nodes
        )
        h_torsion = self.act(self.rel_torsion(h_torsion) + self.root_torsion(x))
        h_angle = scatter(self.filter_angle(angle_basis) * source, centre, 0, dim_size=n_nodes)
        h_angle = self.act(self.rel_angle(h_angle) + self.root_angle(x))
        h = self.lin_cat(torch.cat([h_torsion, h_angle], dim=-1)) + x
        for layer in self.residual:
            h = self.act(layer(h)) + h
        return self.lin_out(h)

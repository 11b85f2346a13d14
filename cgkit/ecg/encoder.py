"""Deep-kernel feature extractor ``g`` and the variational encoding layer of DKL-ECG.

Maier & Jackson (J. Chem. Phys. 157, 174102, 2022) map the standardised CG distance
features through an MLP ``g`` to a latent vector of size ``N_f`` and then through a
variational encoding layer: ``e1`` (a linear map, initialised to the identity) gives the
latent mean and ``e2`` (a linear map to one number) the log-variance, so that
``p(z | R) = N(e1(g(R)), exp(e2(g(R))) I)``. In training ``z`` is sampled by
reparameterisation; at prediction the mean is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FeatureExtractor(nn.Sequential):
    """MLP ``g``: Linear -> BatchNorm -> ELU for each hidden layer, then a linear latent layer.

    Parameters
    ----------
    n_features : int
        Input size (number of distance features, ``M (M - 1) / 2``).
    hidden_sizes : sequence of int
        Hidden layer widths; the authors' default is ``(80, 40, 20, 10)``.
    latent_dim : int
        Output size ``N_f``.
    """

    def __init__(self, n_features: int, hidden_sizes: Sequence[int], latent_dim: int):
        layers: list[nn.Module] = []
        width = int(n_features)
        for size in hidden_sizes:
            layers += [nn.Linear(width, int(size)), nn.BatchNorm1d(int(size)), nn.ELU()]
            width = int(size)
        layers.append(nn.Linear(width, int(latent_dim)))
        super().__init__(*layers)


class VariationalEncoding(nn.Module):
    """Encoding layer ``p(z | R) = N(e1(h), exp(e2(h)) I)`` on top of the extractor output ``h``.

    Parameters
    ----------
    latent_dim : int
        Size ``N_f`` of ``h`` and ``z``.
    init_log_variance : float
        Initial value of ``e2`` (its bias; its weights start at zero). The paper starts the
        latent variance high so the GP first sees smeared inputs.
    """

    def __init__(self, latent_dim: int, init_log_variance: float = 0.0):
        super().__init__()
        self.e1 = nn.Linear(latent_dim, latent_dim)
        self.e2 = nn.Linear(latent_dim, 1)
        with torch.no_grad():
            self.e1.weight.copy_(torch.eye(latent_dim))
            self.e1.bias.zero_()
            self.e2.weight.zero_()
            self.e2.bias.fill_(float(init_log_variance))

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode ``hidden`` (B, N_f).

        Returns
        -------
        z : Tensor, shape (B, N_f)
            A reparameterised sample in training mode, the mean in eval mode.
        mean : Tensor, shape (B, N_f)
        log_variance : Tensor, shape (B, 1)
            Isotropic log-variance of each encoded Gaussian.
        """
        mean = self.e1(hidden)
        log_variance = self.e2(hidden)
        if self.training:
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        else:
            z = mean
        return z, mean, log_variance


class LatentEncoder(nn.Module):
    """``g`` followed by the variational encoding layer: features (B, D) -> (z, mean, log_var)."""

    def __init__(
        self,
        n_features: int,
        hidden_sizes: Sequence[int] = (80, 40, 20, 10),
        latent_dim: int = 6,
        init_log_variance: float = 0.0,
    ):
        super().__init__()
        self.extractor = FeatureExtractor(n_features, hidden_sizes, latent_dim)
        self.encoding = VariationalEncoding(latent_dim, init_log_variance)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.encoding(self.extractor(features))

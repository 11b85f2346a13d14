"""Batch-distribution KL regulariser and the variational encoding layer."""

import math

import numpy as np
import torch

from cgkit.ecg.encoder import LatentEncoder, VariationalEncoding
from cgkit.ecg.kl import BatchKL, mixture_log_prob

torch.set_num_threads(1)


def test_kl_is_zero_when_batch_matches_standard_normal_prior():
    torch.manual_seed(0)
    mean = torch.zeros(64, 3)
    log_variance = torch.zeros(64, 1)
    z = torch.randn(64, 3)  # samples of the batch mixture, which is N(0, I) itself
    assert abs(float(BatchKL()(z, mean, log_variance))) < 1e-6


def test_kl_recovers_analytic_value_for_shifted_batch():
    # every component N(mu, I) -> mixture N(mu, I); KL(N(mu, I) || N(0, I)) = |mu|^2 / 2
    torch.manual_seed(1)
    mu = torch.tensor([1.0, -0.5])
    mean = mu.expand(4000, 2)
    z = mean + torch.randn(4000, 2)
    kl = float(BatchKL()(z, mean, torch.zeros(4000, 1)))
    assert abs(kl - 0.5 * float(mu @ mu)) < 0.05


def test_kl_with_pluggable_prior_is_zero_at_that_prior():
    torch.manual_seed(2)
    prior = torch.distributions.Independent(
        torch.distributions.Normal(torch.tensor([2.0, 0.0]), torch.tensor([0.5, 0.5])), 1
    )
    mean = torch.tensor([2.0, 0.0]).expand(50, 2)
    log_variance = torch.full((50, 1), math.log(0.25))
    z = prior.sample((50,))
    assert abs(float(BatchKL(prior.log_prob)(z, mean, log_variance))) < 1e-5


def test_kl_gradient_flows_and_pulls_batch_to_prior():
    torch.manual_seed(3)
    mean = torch.full((200, 2), 1.5, requires_grad=True)
    log_variance = torch.full((200, 1), -1.0, requires_grad=True)
    noise = torch.randn(200, 2)
    z = mean + noise * torch.exp(0.5 * log_variance)
    BatchKL()(z, mean, log_variance).backward()
    assert torch.all(torch.isfinite(mean.grad)) and torch.all(torch.isfinite(log_variance.grad))
    # descending the gradient moves the means towards the prior's centre
    assert float(mean.grad.sum()) > 0
    # narrow components inside a broad prior: the KL favours wider components
    assert float(log_variance.grad.sum()) < 0


def test_mixture_log_prob_matches_single_gaussian():
    z = torch.tensor([[0.3, -0.2], [1.0, 2.0]])
    mean = torch.tensor([[0.1, 0.4]])
    log_var = torch.tensor([[math.log(0.7)]])
    ref = torch.distributions.MultivariateNormal(mean[0], 0.7 * torch.eye(2)).log_prob(z)
    torch.testing.assert_close(mixture_log_prob(z, mean, log_var), ref)


def test_encoding_starts_at_identity_and_samples_with_its_variance():
    torch.manual_seed(4)
    layer = VariationalEncoding(3, init_log_variance=math.log(0.09))
    hidden = torch.randn(5, 3).repeat(4000, 1)
    layer.eval()
    z, mean, log_variance = layer(hidden)
    torch.testing.assert_close(mean, hidden)
    torch.testing.assert_close(z, mean)
    layer.train()
    z, mean, _ = layer(hidden)
    std = (z - mean).std().item()
    assert abs(std - 0.3) < 0.01


def test_latent_encoder_shapes_and_batchnorm_layers():
    enc = LatentEncoder(10, hidden_sizes=(8, 4), latent_dim=2)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm1d) for m in enc.modules())
    n_elu = sum(isinstance(m, torch.nn.ELU) for m in enc.modules())
    assert (n_bn, n_elu) == (2, 2)
    z, mean, log_variance = enc(
        torch.as_tensor(np.random.default_rng(0).normal(size=(7, 10))).float()
    )
    assert z.shape == (7, 2) and mean.shape == (7, 2) and log_variance.shape == (7, 1)

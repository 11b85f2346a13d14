"""ExactGPRegressor: cached posterior equals gpytorch's exact prediction; save/load."""

import gpytorch
import numpy as np
import pytest
import torch

from cgkit.ecg import ExactGPRegressor

torch.set_num_threads(1)


def _data(rng, n):
    pos = rng.normal(scale=1.2, size=(n, 3, 3))
    d = np.linalg.norm(pos[:, 0] - pos[:, 2], axis=-1)
    return pos, -8.0 + 0.3 * np.sin(d) + rng.normal(scale=0.02, size=n)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    pos, y = _data(rng, 260)
    model = ExactGPRegressor(n_iterations=40).fit(pos[:200], y[:200])
    return model, pos[200:], y[200:]


def test_exact_gp_matches_gpytorch_and_learns(fitted):
    model, pos, y = fitted
    mean, std = model.predict(pos, return_std=True)
    x = torch.as_tensor(model.standardizer_.transform(model._features(pos)))
    with (
        torch.no_grad(),
        gpytorch.settings.fast_pred_var(False),
        gpytorch.settings.max_cholesky_size(10**6),
    ):
        ref = model.model_.likelihood(model.model_(x))
    ref_mean = ref.mean.numpy() * model.target_scale_ + model.target_mean_
    ref_std = np.sqrt(ref.variance.numpy()) * model.target_scale_
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-4)
    assert np.sqrt(np.mean((mean - y) ** 2)) < 0.5 * y.std()
    parts = model.predict_components(pos)
    assert np.ptp(parts["var_noise"]) == 0  # homoscedastic
    np.testing.assert_allclose(np.sqrt(parts["var_total"]), std)


def test_exact_gp_save_load(fitted, tmp_path):
    model, pos, _ = fitted
    model.save(tmp_path / "exact.pt")
    loaded = ExactGPRegressor.load(tmp_path / "exact.pt")
    for a, b in zip(model.predict(pos, True), loaded.predict(pos, True), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert loaded.config == model.config

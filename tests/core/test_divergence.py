"""The shared Jensen-Shannon divergence: known answers in both bases."""

import numpy as np
import pytest

from cgkit._divergence import js_divergence


def test_known_answers_in_nats_and_bits():
    disjoint = ([1, 0, 0], [0, 0, 3])
    assert js_divergence(*disjoint) == pytest.approx(np.log(2))
    assert js_divergence(*disjoint, base=2) == pytest.approx(1.0)
    assert js_divergence([2, 1, 1], [4, 2, 2]) == pytest.approx(0.0, abs=1e-15)
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    m = 0.5 * (p + q)
    expected = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    assert js_divergence(p, q) == pytest.approx(expected)
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p))

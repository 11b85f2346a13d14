"""Held-out split of MD frames by replica (used by the demo and the calculator zoo)."""

import numpy as np

from cgkit.sampling.sources import replica_tail_split


def test_split_holds_out_contiguous_tail_of_each_replica():
    train, test = replica_tail_split(100, 2, 0.2)
    assert len(test) == 20 and len(train) == 80
    np.testing.assert_array_equal(test, np.r_[40:50, 90:100])
    assert not set(train) & set(test)

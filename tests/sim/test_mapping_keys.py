"""The accuracy simulator follows the mapping keys the cost model prices, or refuses them in one line."""
import numpy as np
import pytest

from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.model.weights import random_weights
from archsim.sim.accuracy import simulate
from tests.support import single_dense, single_conv


def _dense():
    return random_weights(single_dense(256, 16), seed=0)


def test_parallel_rows_is_simulated_as_arrays_of_that_many_rows():
    """Reading 64 of 128 rows at once converts each 64-row partial sum on its own and adds the results
    digitally: with ideal wires exactly what arrays of 64 rows compute, chip for chip (same seed)."""
    wl = _dense()
    x = np.random.default_rng(1).random((16, 256))
    a = Architecture(device="reram", rows=128, cols=128, adc_bits=5)
    chunked = simulate(map_workload(wl, a.replace(parallel_rows=64)), x, trials=2, seed=3)
    short = simulate(map_workload(wl, a.replace(rows=64)), x, trials=2, seed=3)
    full = simulate(map_workload(wl, a), x, trials=2, seed=3)
    assert np.array_equal(chunked.logit_error, short.logit_error)
    assert not np.array_equal(chunked.logit_error, full.logit_error)   # the key changes what is computed


def test_parallel_rows_with_wire_resistance_is_refused():
    wl = _dense()
    a = Architecture(device="reram", rows=128, cols=128, parallel_rows=64, r_wire_ohm=1.0)
    with pytest.raises(ArchsimError, match="parallel_rows"):
        simulate(map_workload(wl, a), np.zeros((2, 256)), trials=1)


def test_kernel_position_mapping_is_refused_by_the_simulator():
    wl = random_weights(single_conv(16, 8, 6), seed=0)
    a = Architecture(device="reram", rows=64, cols=64, conv_mapping="kernel_position")
    with pytest.raises(ArchsimError, match="conv_mapping"):
        simulate(map_workload(wl, a), np.zeros((2, 16, 6, 6)), trials=1)

"""Training reads follow ``parallel_rows``: each array of ``rows`` rows is converted ``read_rows`` rows at a time."""
import numpy as np

from archsim.sim.training.network import Periphery, read


def _per(rows, read_rows, adc_bits=4):
    return Periphery(True, 8, adc_bits, 1.0, rows, False, read_rows)


def test_chunks_tile_each_array_in_read_rows_steps():
    # arrays of 128 rows (the last one partial), each read 48 rows at a time: boundaries restart per array
    got = list(_per(128, 48).chunks(300))
    assert got == [(0, 48), (48, 96), (96, 128), (128, 176), (176, 224), (224, 256), (256, 300)]
    assert list(_per(128, 0).chunks(300)) == [(0, 128), (128, 256), (256, 300)]
    assert list(_per(128, 128).chunks(300)) == list(_per(128, 0).chunks(300))


def test_read_equals_chunk_by_chunk_conversion():
    rng = np.random.default_rng(3)
    K, N, B = 200, 7, 5
    W = rng.uniform(-1, 1, (K, N))
    x = rng.uniform(-1, 1, (B, K))
    per = _per(128, 32)
    got = read((W, 1.0, None), x, per, False, stream=1, row0=0)
    # independent construction: quantize the input as the module docstring says, convert every chunk alone
    xmax = np.max(np.abs(x), axis=1, keepdims=True)
    u = np.rint(x / xmax * 127) / 127
    la = 7.0
    want = np.zeros((B, N))
    for r0, r1 in [(0, 32), (32, 64), (64, 96), (96, 128), (128, 160), (160, 192), (192, 200)]:
        step = (r1 - r0) / la
        want += np.clip(np.rint(u[:, r0:r1] @ W[r0:r1] / step), -la, la) * step
    # the same operations in the same order: equal to rounding of the last sum (1e-12 relative)
    np.testing.assert_allclose(got, want * xmax, rtol=1e-12, atol=1e-12)
    # and it differs from reading whole arrays (a 4-bit ADC over 128 rows is coarser than over 32)
    whole = read((W, 1.0, None), x, _per(128, 0), False, stream=1, row0=0)
    assert np.max(np.abs(whole - got)) > 1e-3

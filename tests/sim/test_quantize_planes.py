"""The bit-serial default's pulse-plane kernel gives quantize's numbers bit for bit (and counts bad inputs)."""
import numpy as np
import pytest

from archsim.sim.tilesim import kernels as K


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("signed,dac", [(False, 1), (True, 1), (False, 2)])
def test_planes_equal_quantize(dt, signed, dac):
    rng = np.random.default_rng(1)
    B, Kd = 301, 13
    X = rng.normal(size=(B, Kd)) if signed else rng.random((B, Kd))
    X = np.asfortranarray(X.astype(np.float32))          # im2col's column-major layout
    X[::5, 2] = 0.0
    X[3, 4] = 10.0                                        # clipped at the top code
    hi = 127.0 if signed else 255.0
    lo = -hi if signed else 0.0
    pulses = -(-(7 if signed else 8) // dac)
    ref = np.empty((pulses, B, Kd), dt)
    bad0 = K.run_quantize(X, 100.0, lo, hi, 0, dac, pulses, ref, np.empty((1, 1, 1), np.float32), False)
    buf = np.empty((Kd, pulses * B), dt)
    bad1 = K.quantize_planes_cm(X, 100.0, lo, hi, dac, pulses, buf, np.empty(B, np.int64), np.empty(B))
    V = buf.reshape(Kd, pulses, B).transpose(1, 2, 0)
    assert bad0 == bad1 == 0
    # same IEEE operations: equal to the last bit, signs of zeros included
    assert np.array_equal(V, ref) and np.array_equal(np.signbit(V), np.signbit(ref))


def test_planes_count_non_finite_inputs():
    X = np.asfortranarray(np.ones((4, 3), np.float32))
    X[1, 2], X[2, 0] = np.nan, np.inf
    buf = np.empty((3, 8 * 4))
    assert K.quantize_planes_cm(X, 1.0, 0.0, 255.0, 1, 8, buf, np.empty(4, np.int64), np.empty(4)) == 2

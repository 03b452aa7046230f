"""The simulator's network path: convolutions read from their input maps give the im2col matrix's numbers bit
for bit, and the scored pass gives the same numbers on 1, 2 or 3 threads (read noise keyed by image and row,
never by thread)."""
import dataclasses

import numpy as np
import pytest

from archsim import Architecture, GraphBuilder
from archsim.mapping.layout import map_workload
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from archsim.model.weights import random_weights, weight_matrix
from archsim.sim import accuracy, forward
from archsim.sim.tilesim import ProgrammedMatrix, SimConfig


@pytest.fixture(scope="module")
def net():
    """Stride 2, uneven padding, a grouped convolution, layers over several 16-row arrays, a dense head."""
    b = GraphBuilder("threads_net", (2, 11, 11))
    b.conv("c1", 6, 3, padding=1)
    b.conv("c2", 8, 3, stride=2, padding=(1, 0, 1, 2))
    b.conv("c3", 8, 3, padding=1, groups=2)
    b.maxpool("p", 2)
    b.dense("fc", 10, relu=False)
    wl = random_weights(b.build(), seed=5)
    return wl, accuracy.synthetic_inputs(wl, 37, seed=2)


CONFIGS = {
    "bit-serial, pcm": dict(device="pcm", rows=16, cols=8, cols_per_adc=8),
    "one 8-bit pulse, analog pair, sonos": dict(device="sonos", rows=16, cols=8, cols_per_adc=8, dac_bits=8,
                                                differential_readout="analog"),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_scored_pass_is_the_same_on_1_2_3_threads(net, name):
    wl, x = net
    m = map_workload(wl, Architecture(**CONFIGS[name]))
    # blocks of 5 images: 8 blocks over 37 images, the last one short; read noise on (fresh per row)
    runs = [accuracy.simulate(m, x, trials=2, seed=4, chunk=5, calib=16, cfg=SimConfig(threads=t))
            for t in (1, 2, 3)]
    assert runs[0].logit_error.min() > 0        # the chips do err: equality below is not of exact networks
    for r in runs[1:]:
        assert np.array_equal(r.logit_error, runs[0].logit_error)     # bitwise: no tolerance
        assert np.array_equal(r.correct, runs[0].correct)
        assert np.array_equal(r.per_layer.relative_error, runs[0].per_layer.relative_error)


def test_threads_do_not_change_the_outputs_of_a_chip(net):
    """The outputs themselves, block views against the sequential chip (one block per image: the row offsets
    of every view are derived from its first image)."""
    wl, x = net
    m = map_workload(wl, Architecture(**CONFIGS["one 8-bit pulse, analog pair, sonos"]))
    outs = []
    for threads, step in ((1, 37), (2, 1), (3, 4)):
        chip = accuracy._Chip(m, load_device(m.arch.device), SimConfig(), 0, 0)
        forward.run(wl, x[:16], matmul=chip, chunk=16)
        chip.phase = accuracy.TEST_PASS
        outs.append(np.concatenate(accuracy.scored_pass(chip, wl, x, step, threads)))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def _programmed(layer, arch, cfg, x_cal):
    m = map_workload(_one_layer(layer), arch)
    lm = m.layers[0]
    Wg = weight_matrix(layer, np.float64)[0]
    lm_g = dataclasses.replace(lm, groups=1, N=lm.N // lm.groups, macs=lm.macs // lm.groups)
    return ProgrammedMatrix.program(Wg, lm_g, arch, m.device, cfg, seed=7).calibrate(forward.im2col(x_cal, layer))


def _one_layer(layer):
    b = GraphBuilder("one", tuple(layer.in_shape))
    b.conv(layer.name, layer.out_shape[0], layer.kernel, stride=layer.stride, padding=layer.padding,
           relu=False, bias=False, weights=layer.weights)
    return b.build()


MODES = {   # conv_mode 0 (bit-serial pulses), 1 (pulses summed in analog), 2 (ideal DAC)
    "pulses": (dict(device="pcm", rows=16, cols=8), SimConfig()),
    "analog accumulation": (dict(device="pcm", rows=16, cols=8, input_accumulation="analog"), SimConfig()),
    "ideal dac": (dict(device="pcm", rows=16, cols=8), SimConfig(ideal_dac=True)),
    "one pulse, small chunks": (dict(device="sonos", rows=16, cols=8, dac_bits=8), SimConfig(chunk_elements=300)),
    "two-bit pulses": (dict(device="sonos", rows=16, cols=8, dac_bits=2), SimConfig()),     # squares of 0..3 codes
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("signed", [False, True])
def test_maps_give_the_im2col_numbers(net, mode, signed):
    wl, x = net
    layer = wl.layer("c2")          # stride 2, padding (1, 0, 1, 2)
    rng = np.random.default_rng(1)
    xin = rng.random((9,) + tuple(layer.in_shape), dtype=np.float32) - (np.float32(0.3) if signed else 0)
    kw, cfg = MODES[mode]
    pm = _programmed(layer, Architecture(**kw), cfg, xin)
    cols = forward.im2col(xin[3:], layer)
    want = pm.matmul(cols, key=(1, 2), first_row=11)
    got = pm.matmul_maps(xin[3:], layer.kernel, layer.stride, layer.padding, layer.out_shape[1:], key=(1, 2),
                         first_row=11)
    assert np.array_equal(got, want)


def test_maps_refuse_non_finite_inputs_and_wrong_shapes(net):
    wl, x = net
    layer = wl.layer("c2")
    xin = np.random.default_rng(0).random((4,) + tuple(layer.in_shape), dtype=np.float32)
    pm = _programmed(layer, Architecture(device="pcm", rows=16, cols=8), SimConfig(), xin)
    bad = xin.copy()
    bad[1, 0, 2, 3] = np.nan
    with pytest.raises(ArchsimError, match="NaN or infinity"):
        pm.matmul_maps(bad, layer.kernel, layer.stride, layer.padding, layer.out_shape[1:], key=(0,))
    with pytest.raises(ArchsimError, match="do not fit"):
        pm.matmul_maps(xin[:, :1], layer.kernel, layer.stride, layer.padding, layer.out_shape[1:], key=(0,))

"""Seeded networks for the fidelity checks: weights whose logits are not degenerate, standardised inputs,
and a network rebuilt for a smaller input with every weighted layer's arrays kept
(:mod:`archsim.explore.fidelity` uses them; they are re-exported there)."""
from __future__ import annotations

import dataclasses
import itertools

import networkx as nx
import numpy as np

from archsim.model.errors import ArchsimError, ParameterError
from archsim.model.kinds import KINDS
from archsim.model.weights import attach_weights
from archsim.model.workload import Layer, Workload


def seeded_weights(wl: Workload, seed: int = 0) -> Workload:
    """``wl`` with seeded weights whose logits are not degenerate, and zero biases.

    He-normal weights (``std = sqrt(2 / fan_in)``, He et al. 2015) standardised per output neuron: each
    output's fan-in weights have zero mean and the He variance exactly (weight standardisation, Qiao et
    al. 2019).  Plain He-normal weights on a deep ReLU network send every input to nearly the same
    logits (VGG-16: correlation 0.996 between inputs, the same top-1 class for all); zero-mean rows
    cancel the positive mean that ReLU outputs share, and the logits of different inputs decorrelate
    (VGG-16 at 32 x 32: correlation 0.39, 16 inputs over 11 classes).  Not a trained network: results
    with it are fidelity, never accuracy."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    params = {}
    for lay in wl.weighted_layers():
        shape = lay.matrix_view.weight_shape(lay)
        w = rng.standard_normal(shape).reshape(shape[0], -1)
        w -= w.mean(axis=1, keepdims=True)
        sd = w.std(axis=1, keepdims=True)
        w = w / np.where(sd > 0, sd, 1.0) * np.sqrt(2.0 / lay.K)
        params[f"{lay.name}.weight"] = w.reshape(shape).astype(np.float32)
        if lay.has_bias:
            params[f"{lay.name}.bias"] = np.zeros(lay.N, dtype=np.float32)
    return attach_weights(wl, params, source=f"seeded weights, seed {seed}")


def seeded_inputs(wl: Workload, n: int, seed) -> np.ndarray:
    """``n`` standard-normal inputs of ``wl``'s input shape: a standardised image (zero mean, unit
    variance per channel, as after the usual per-channel normalisation)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(n),) + tuple(wl.input_layer.out_shape), dtype=np.float32)


def reduced_input(wl: Workload, hw: int) -> Workload:
    """``wl`` rebuilt for ``hw`` x ``hw`` inputs, every weighted layer keeping its rows ``K`` and columns
    ``N`` (so its arrays and the mapping of every layer are those of the full-size network).

    Shapes are derived again layer by layer (the kind table's shape rules).  Where the features reaching
    a dense layer shrank by a whole factor ``r`` (VGG-16's 512 x 1 x 1 where 512 x 7 x 7 was), they are
    replicated ``r`` times before the flatten, as torchvision's ``AdaptiveAvgPool2d(7)`` does to a 1 x 1
    map (the replicas join along channels, not interleaved: with seeded weights the order of a dense
    layer's rows does not matter).  A network that cannot be rebuilt so fails with one line."""
    if isinstance(hw, bool) or not isinstance(hw, (int, np.integer)) or hw < 1:
        raise ParameterError(f"{{param}} {hw!r}: allowed a whole number of pixels of 1 or more", "input_hw")
    g0, g = wl.graph, nx.DiGraph()
    shapes: dict[str, tuple] = {}
    old = {l.name: l for l in wl.layers()}
    order = itertools.count()

    def add(layer: Layer, srcs) -> None:
        g.add_node(layer.name, layer=layer, order=next(order))
        for s in srcs:
            g.add_edge(s, layer.name)
        shapes[layer.name] = tuple(layer.out_shape)

    def fail(why: str):
        return ParameterError(f"{{param}} {hw}: {wl.name} cannot be simulated at {hw}x{hw} ({why}); "
                              f"give a larger {{param}}", "input_hw", "input_hw")

    for lay in wl.layers():
        preds = sorted(g0.predecessors(lay.name), key=lambda n: g0.nodes[n].get("order", 0))
        if lay.kind == "input":
            if len(lay.out_shape) != 3:
                raise fail("its input is not an image")
            s = (lay.out_shape[0], int(hw), int(hw))
            add(dataclasses.replace(lay, in_shape=s, out_shape=s), [])
            continue
        ins = [shapes[p] for p in preds]
        if lay.kind == "dense" and int(np.prod(ins[0])) != lay.K:
            if lay.weights is not None:   # its rows follow the full-size map's order, not the replicas'
                raise fail(f"layer '{lay.name}' carries weights laid out for the full-size input")
            ins = [_replicate_before(g, shapes, old, preds[0], lay.K, add, fail)]
        try:
            out = tuple(KINDS[lay.kind].shape(dataclasses.replace(lay, in_shape=ins[0]), ins))
        except ArchsimError as e:
            raise fail(str(e)) from None
        if any(d <= 0 for d in out):
            raise fail(f"layer '{lay.name}' would have no output")
        add(dataclasses.replace(lay, in_shape=ins[0], out_shape=out), preds)
    new = Workload(wl.name, g, wl.description, wl.dataset)
    if [(l.K, l.N) for l in new.weighted_layers()] != [(l.K, l.N) for l in wl.weighted_layers()]:
        raise fail("a weighted layer would change its rows or columns")
    return new


def _replicate_before(g, shapes, old, flat: str, K: int, add, fail) -> tuple:
    """Replace the flatten ``flat`` feeding a dense layer of ``K`` rows by: its source's features copied
    ``r`` times along channels, then the flatten; returns the flatten's new output shape."""
    if old[flat].kind != "flatten":
        raise fail(f"the features reaching a dense layer shrank and '{flat}' is not a flatten")
    (src,) = list(g.predecessors(flat))
    s = shapes[src]
    r, rem = divmod(K, int(np.prod(s)))
    if rem or r < 1:
        raise fail(f"{int(np.prod(s))} features where {K} were is not a whole factor")
    g.remove_node(flat)
    copies = [f"{flat}_copy{i}" for i in range(r)]
    for c in copies:
        add(Layer(c, "identity", s, s), [src])
    cat = (s[0] * r,) + tuple(s[1:])
    add(Layer(f"{flat}_replicate", "concat", cat, cat), copies)
    add(dataclasses.replace(old[flat], in_shape=cat, out_shape=(K,)), [f"{flat}_replicate"])
    return (K,)

"""A weight matrix programmed onto crossbar arrays, and its analog matrix-vector products.

:class:`ProgrammedMatrix` programs one layer (split, quantization, device errors), calibrates its input
and ADC ranges and computes noisy MVMs; the model it implements is stated in the package docstring
(:mod:`archsim.sim.tilesim`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

import techlib

from archsim.model.arch import Architecture
from archsim.model.device import Device, load_device
from archsim.model.errors import ArchsimError
from archsim.mapping.layout import LayerMap, ceil_div, resolve_bits_per_cell
from archsim.sim.tilesim import kernels as K_
from archsim.sim.tilesim import rng
from archsim.sim.tilesim.config import SimConfig
from archsim.sim.tilesim.support import (_TAG_D2D, _TAG_DRIFT, _TAG_PROG, _TAG_READ, _TAG_STUCK, _WS,  # noqa: F401
                                         _effective_blocks, _generator, _ir_drop_on, _key_tuple, _weights3,
                                         seed_parts, slice_codes, weight_code_params,
                                         weight_scale)

#: kernel calls on fewer elements run serially even with ``SimConfig(parallel=True)``: waking the
#: thread pool costs more than it saves (measured on the 2-core development machine)
PARALLEL_MIN_ELEMENTS = 1 << 18

@dataclass(frozen=True, eq=False)
class ProgrammedMatrix:
    """One layer's weights programmed on its arrays; call :meth:`program`, then :meth:`calibrate`."""

    layer: str
    lm: LayerMap
    arch: Architecture
    device: Device
    cfg: SimConfig
    entropy: int
    spawn_key: tuple
    noise_root: int         # root of the read-noise streams, from SeedSequence(entropy, spawn_key + (read tag,))
    bits_per_cell: int
    mag_bits: int
    wmax_code: int          # largest weight code (differential: 2^m - 1; offset: Q)
    offset_code: int        # offset mapping: Q (subtracted digitally); differential: 0
    w_scale: float          # max |W|
    g_unit: float           # conductance step dg in S (digital device: 1/(2^b - 1))
    gmin_u: float           # g_min / dg
    gmax_u: float           # g_max / dg
    row_bounds: tuple = field(repr=False)   # ((r0, r1), ...) per row block
    col_bounds: tuple = field(repr=False)   # ((c0, c1), ...) per column block
    blocks: tuple = field(repr=False)       # lm.blocks(rows, cols), as simulated
    codes: np.ndarray = field(repr=False)   # (copies, slices, groups, K, Ng) slice values (uint16)
    G: np.ndarray = field(repr=False)       # (copies, slices, groups, K, Ng) programmed conductances / dg
    S2: np.ndarray | None = field(repr=False)      # same shape, float32: read-noise variance / dg^2 (None: none)
    Gfast: np.ndarray = field(repr=False)   # (CU, slices, groups, K, Ng) what each conversion unit reads
    S2fast: np.ndarray | None = field(repr=False)  # (CU, ...) float32 read-noise variance of each unit
    signs: tuple            # sign of each conversion unit in the digital sum
    calibrated: bool = False
    x_max: float = 1.0
    x_signed: bool = False
    adc_lo: np.ndarray | None = field(default=None, repr=False)    # (groups, RB, slices, CU, Ng)
    adc_step: np.ndarray | None = field(default=None, repr=False)
    adc_inv: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def program(cls, W: np.ndarray, lm: LayerMap, arch: Architecture, device: "Device | techlib.Record | str",
                cfg: SimConfig = SimConfig(), seed=0) -> "ProgrammedMatrix":
        """Program ``W`` ((K, N), or (groups, K, N/groups)) as ``lm`` splits it on ``arch``'s arrays."""
        if not isinstance(cfg, SimConfig):
            raise ArchsimError(f"layer '{lm.layer}': cfg must be a SimConfig, got {type(cfg).__name__}")
        entropy, spawn = seed_parts(seed)
        dm = load_device(device)
        W3 = _weights3(W, lm)
        bpc = resolve_bits_per_cell(arch, dm)
        where = f"layer '{lm.layer}'"
        mb, wmax, off, slices = weight_code_params(arch, bpc, where)
        n_g = lm.N // lm.groups
        expect = dict(slices=slices, copies=arch.copies, conversions=arch.conversions_per_pair,
                      row_blocks=ceil_div(lm.K, arch.rows), col_blocks=ceil_div(n_g, arch.cols))
        got = {k: getattr(lm, k) for k in expect}
        if got != expect:
            raise ArchsimError(f"{where}: LayerMap {got} does not match architecture {arch.source} "
                               f"(which gives {expect}); map the layer with the same architecture and device")
        blocks = tuple(lm.blocks(arch.rows, arch.cols))
        if len(blocks) != lm.arrays:  # pragma: no cover - LayerMap invariant
            raise ArchsimError(f"{where}: LayerMap.blocks gives {len(blocks)} arrays, lm.arrays = {lm.arrays}")
        row_bounds = tuple(sorted({(b[1], b[2]) for b in blocks}))
        col_bounds = tuple(sorted({(b[3], b[4]) for b in blocks}))

        # ---- weight codes
        w_scale = weight_scale(W3)
        codes = slice_codes(W3, w_scale, arch, bpc)  # (C, S, G, K, Ng)
        mask = (1 << bpc) - 1

        # ---- conductances in units of dg
        levels = float(mask)
        dg = (dm.g_max - dm.g_min) / levels
        gmin_u, gmax_u = dm.g_min / dg, dm.g_max / dg
        target = gmin_u + codes.astype(np.float64)
        G = target.copy()
        shape = G.shape
        if not dm.exact:
            d2d = dm.d2d if cfg.d2d_sigma_rel is None else cfg.d2d_sigma_rel
            if d2d > 0:
                G *= 1.0 + d2d * _generator(entropy, spawn, _TAG_D2D).standard_normal(shape)
            if cfg.prog_error and not dm.prog.is_none:
                sig = dm.prog.sigma(target * dg) / dg
                G += sig * _generator(entropy, spawn, _TAG_PROG).standard_normal(shape)
            np.clip(G, 0.0, dm.clip_max / dg, out=G)
            if dm.drift is not None and cfg.time_s > 0:
                mu, sd = dm.drift.nu_stats(target * dg)
                nu = mu + sd * _generator(entropy, spawn, _TAG_DRIFT).standard_normal(shape)
                G *= dm.drift.factor(cfg.time_s, nu)
        on = dm.stuck_on if cfg.stuck_on_rate is None else cfg.stuck_on_rate
        offr = dm.stuck_off if cfg.stuck_off_rate is None else cfg.stuck_off_rate
        if on + offr > 1.0:
            raise ArchsimError(f"{where}: stuck-on rate {on} + stuck-off rate {offr} exceeds 1 ({dm.file})")
        if on > 0 or offr > 0:
            u = _generator(entropy, spawn, _TAG_STUCK).random(shape)
            G[u < on] = gmax_u
            G[(u >= on) & (u < on + offr)] = gmin_u
        S2 = None
        if not dm.exact and cfg.read_noise and not dm.read.is_none:
            t_noise = cfg.time_s + (dm.drift.params["t0"] if dm.drift is not None else 0.0)
            s = dm.read.sigma(G * dg, t_noise) / dg
            if np.any(s > 0):
                S2 = (s * s).astype(np.float32)

        # ---- what the conversion units read (IR drop: each array's effective matrix)
        dt = np.dtype(cfg.precision)
        Gr = G
        if _ir_drop_on(cfg, arch, dm):
            Gr = _effective_blocks(G, dg, gmin_u, arch, row_bounds, col_bounds)
        analog_pair = lm.copies == 2 and lm.conversions == 1
        if analog_pair:
            Gf = (Gr[0] - Gr[1])[None]
            S2f = None if S2 is None else (S2[0] + S2[1])[None]
            signs = (1.0,)
        else:
            Gf, S2f = Gr, S2
            signs = (1.0, -1.0) if lm.copies == 2 else (1.0,)
        Gf = np.ascontiguousarray(Gf, dtype=dt)
        S2f = None if S2f is None else np.ascontiguousarray(S2f, dtype=np.float32)
        for a in (codes, G, S2, Gf, S2f):
            if a is not None:
                a.flags.writeable = False
        noise_root = int(np.random.SeedSequence(entropy, spawn_key=spawn + (_TAG_READ,)).generate_state(1, np.uint64)[0])
        pm = cls(lm.layer, lm, arch, dm, cfg, entropy, spawn, noise_root, bpc, mb, wmax, off, w_scale, dg, gmin_u, gmax_u,
                 row_bounds, col_bounds, blocks, codes, G, S2, Gf, S2f, signs)
        return pm._with_ranges(None)

    # ------------------------------------------------------------------ shape helpers
    @property
    def groups(self) -> int:
        return self.lm.groups

    @property
    def K(self) -> int:
        return self.lm.K

    @property
    def Ng(self) -> int:
        return self.lm.N // self.lm.groups

    @property
    def N(self) -> int:
        return self.lm.N

    @property
    def slices(self) -> int:
        return self.lm.slices

    @property
    def n_units(self) -> int:
        """Conversion units per (group, row block, slice): 2 for a pair read digitally, else 1."""
        return len(self.signs)

    @property
    def ir_drop(self) -> bool:
        """Whether the arrays are read through their effective matrices (parasitics on)."""
        return _ir_drop_on(self.cfg, self.arch, self.device)

    @property
    def analog_pair(self) -> bool:
        return self.lm.copies == 2 and self.lm.conversions == 1

    @property
    def n_arrays(self) -> int:
        """Arrays simulated (equals ``lm.arrays``)."""
        return len(self.blocks)

    @property
    def conv_mode(self) -> int:
        """0: digital pulses; 1: pulses accumulated in analog, one conversion; 2: ideal DAC."""
        if self.cfg.ideal_dac:
            return 2
        return 1 if self.arch.input_accumulation == "analog" else 0

    @property
    def n_conv(self) -> int:
        """Conversions per column per vector."""
        return self.arch.input_pulses if self.conv_mode == 0 else 1

    @property
    def conversions_per_vector(self) -> int:
        """ADC conversions per input vector over all arrays (``lm.col_reads x conversions per vector``)."""
        return self.groups * len(self.row_bounds) * self.slices * self.n_units * self.Ng * self.n_conv

    @property
    def conv_coef(self) -> np.ndarray:
        """Shift-and-add weight of each conversion."""
        if self.conv_mode == 0:
            return np.array([float(1 << (self.arch.dac_bits * p)) for p in range(self.n_conv)])
        return np.ones(1)

    @property
    def x_code_max(self) -> int:
        n = self.arch.input_bits
        return (1 << (n - 1)) - 1 if self.x_signed else (1 << n) - 1

    @property
    def x_scale(self) -> float:
        """Input value -> DAC code units."""
        return self.x_code_max / self.x_max if self.calibrated else 1.0

    @property
    def v_max(self) -> float:
        """Largest |pulse code| of one conversion (the DAC full scale)."""
        if self.conv_mode == 0:
            return float((1 << self.arch.dac_bits) - 1)
        return float(self.x_code_max) if self.calibrated else 1.0

    @property
    def out_scale(self) -> float:
        return (self.w_scale / self.wmax_code) / self.x_scale

    def unit_index(self, g: int, rb: int, s: int, cu: int) -> int:
        return ((g * len(self.row_bounds) + rb) * self.slices + s) * self.n_units + cu

    # ------------------------------------------------------------------ views for tests and reports
    def quantized_weights(self) -> np.ndarray:
        """The weights the codes represent, (groups, K, Ng): what an exact analog array computes."""
        sl = np.array([float(1 << (self.bits_per_cell * s)) for s in range(self.slices)])
        mag = np.tensordot(sl, self.codes.astype(np.float64), axes=([0], [1]))  # (C, G, K, Ng)
        q = mag[0] - mag[1] if self.lm.copies == 2 else mag[0] - self.offset_code
        return q * (self.w_scale / self.wmax_code)

    def conductances(self, which: str = "programmed") -> np.ndarray:
        """Cell conductances in S, (copies, slices, groups, K, Ng): ``programmed`` or ``target``."""
        if which == "target":
            return (self.gmin_u + self.codes.astype(np.float64)) * self.g_unit
        if which == "programmed":
            return self.G * self.g_unit
        raise ArchsimError(f"conductances: which = {which!r} is not allowed; allowed: programmed, target")

    def read_sigma(self) -> np.ndarray:
        """Per-cell read-noise standard deviation in S (zeros without read noise)."""
        return np.zeros(self.G.shape) if self.S2 is None else np.sqrt(self.S2.astype(np.float64)) * self.g_unit

    # ------------------------------------------------------------------ inputs
    def _inputs3(self, X, check_finite: bool = False) -> tuple[np.ndarray, bool]:
        """(groups, B, K) view of the inputs; matmul checks finiteness in the quantization pass."""
        X = np.asarray(X)
        given = tuple(X.shape)
        if X.dtype.kind not in "fiub":
            raise ArchsimError(f"layer '{self.layer}': inputs must be numbers, got dtype {X.dtype}")
        if X.dtype not in (np.float32, np.float64):   # the kernels read float32 or float64 in place
            X = X.astype(np.float64)
        vec = False
        if X.ndim == 1:
            X, vec = X[None], True
        if X.ndim == 2:
            if self.groups != 1:
                raise ArchsimError(f"layer '{self.layer}': inputs of shape {given} given; this layer has "
                                   f"{self.groups} groups: allowed (groups, B, K) = ({self.groups}, B, {self.K})")
            X = X[None]
        if X.ndim != 3 or X.shape[0] != self.groups or X.shape[2] != self.K:
            raise ArchsimError(f"layer '{self.layer}': inputs of shape {given} do not fit; allowed (B, {self.K})"
                               + (f" or ({self.groups}, B, {self.K})" if self.groups > 1 else ""))
        if check_finite and X.size and not np.isfinite(X).all():
            raise ArchsimError(f"layer '{self.layer}': inputs contain NaN or infinity")
        return X, vec

    def _quantize(self, Xg: np.ndarray, want_v2: bool):
        """DAC codes of ``Xg`` (B, K): ``V`` and ``V2`` (NC, B, K) views and ``Vf``, ``V2f`` (NC*B, K)
        for the matrix products; column-major when ``Xg`` is (im2col's layout), so that every pass
        runs in memory order."""
        nb, k = Xg.shape
        nc = self.n_conv
        if Xg.strides[0] < Xg.strides[1]:
            bufv = _WS.get("V", (k, nc * nb), self.cfg.precision)
            bufw = _WS.get("V2", (k, nc * nb), np.float32)
            V, V2 = (b.reshape(k, nc, nb).transpose(1, 2, 0) for b in (bufv, bufw))
            Vf, V2f = bufv.T, bufw.T
        else:
            Vf = _WS.get("V", (nc * nb, k), self.cfg.precision)
            V2f = _WS.get("V2", (nc * nb, k), np.float32)
            V, V2 = Vf.reshape(nc, nb, k), V2f.reshape(nc, nb, k)
        lo = -float(self.x_code_max) if self.x_signed else 0.0
        bad = K_.run_quantize(Xg, self.x_scale, lo, float(self.x_code_max), self.conv_mode, self.arch.dac_bits,
                              self.arch.input_pulses, V, V2, want_v2, self._parallel(Xg.size * nc))
        if bad:
            raise ArchsimError(f"layer '{self.layer}': inputs contain NaN or infinity ({bad} values)")
        return V, V2, Vf, V2f

    def _offset_correction(self, V: np.ndarray) -> np.ndarray | None:
        """Per vector: what offset mapping subtracts digitally (g_min current of every slice + Q x codes)."""
        if self.lm.copies == 2:
            return None
        code_sum = np.tensordot(self.conv_coef, V.astype(np.float64).sum(axis=2), axes=([0], [0]))  # (nb,)
        slice_w = sum(float(1 << (self.bits_per_cell * s)) for s in range(self.slices))
        return (self.gmin_u * slice_w + self.offset_code) * code_sum

    def _parallel(self, elements: int) -> bool:
        """Parallel kernels only where a call has enough work to pay for waking the threads."""
        return self.cfg.parallel and elements >= PARALLEL_MIN_ELEMENTS

    def _check_ready(self):
        needs_x = not self.cfg.ideal_dac
        needs_adc = (not self.cfg.ideal_adc) and self.cfg.adc_range == "calibrated"
        if (needs_x or needs_adc) and not self.calibrated:
            why = "the DAC needs an input range" if needs_x else "adc_range 'calibrated' needs ADC ranges"
            raise ArchsimError(f"layer '{self.layer}': call calibrate(X_calibration) before matmul ({why})")

    # ------------------------------------------------------------------ calibration
    def calibrate(self, X: np.ndarray) -> "ProgrammedMatrix":
        """A copy with the input range and (``adc_range='calibrated'``) the ADC ranges set from ``X``.

        The original object is unchanged (frozen style)."""
        X3, _ = self._inputs3(X, check_finite=True)
        x_max = float(np.max(np.abs(X3))) if X3.size else 0.0
        signed = bool(X3.size and (X3 < 0).any())
        if signed and self.arch.input_bits < 2:
            raise ArchsimError(f"layer '{self.layer}': signed calibration inputs need input_bits >= 2 "
                               f"({self.arch.source}); allowed: non-negative inputs or input_bits >= 2")
        pm = dataclasses.replace(self, calibrated=True, x_max=x_max if x_max > 0 else 1.0, x_signed=signed)
        stats = None
        if self.cfg.adc_range == "calibrated" and not self.cfg.ideal_adc and X3.shape[1] > 0:
            stats = pm._calibration_stats(X3)
        return pm._with_ranges(stats)

    def _calibration_stats(self, X3: np.ndarray) -> np.ndarray:
        """Full scale per (group, row block, slice, unit, column block): percentile of |I|, no noise, no ADC."""
        RB, CB = len(self.row_bounds), len(self.col_bounds)
        stats = np.zeros((self.groups, RB, self.slices, self.n_units, CB))
        pct = self.cfg.calib_percentile
        keep: dict = {}
        B = X3.shape[1]
        bc = max(1, min(B, self.cfg.chunk_elements // (self.n_conv * max(self.Ng, self.K))))
        for c0 in range(0, B, bc):
            c1 = min(B, c0 + bc)
            for g in range(self.groups):
                V, _, V2d, _ = self._quantize(X3[g, c0:c1], False)
                for rb, (r0, r1) in enumerate(self.row_bounds):
                    for s in range(self.slices):
                        for cu in range(self.n_units):
                            I = np.abs(V2d[:, r0:r1] @ self.Gfast[cu, s, g, r0:r1])
                            for cb, (q0, q1) in enumerate(self.col_bounds):
                                blk = I[:, q0:q1]
                                if pct >= 100.0:
                                    stats[g, rb, s, cu, cb] = max(stats[g, rb, s, cu, cb], float(blk.max()))
                                else:
                                    keep.setdefault((g, rb, s, cu, cb), []).append(blk.ravel())
        for k, parts in keep.items():
            stats[k] = float(np.percentile(np.concatenate(parts), pct))
        return stats

    def _with_ranges(self, stats: np.ndarray | None) -> "ProgrammedMatrix":
        """ADC (lo, step, 1/step) per column of every conversion unit."""
        RB = len(self.row_bounds)
        bits = self.arch.adc_bits
        signed = self.x_signed or self.analog_pair
        per_code = float((1 << (bits - 1)) - 1) if signed else float((1 << bits) - 1)
        step = np.ones((self.groups, RB, self.slices, self.n_units, self.Ng))
        policy = self.cfg.adc_range
        if policy != "granular":
            g_top = (self.gmax_u - self.gmin_u) if self.analog_pair else self.gmax_u
            for rb, (r0, r1) in enumerate(self.row_bounds):
                for cb, (q0, q1) in enumerate(self.col_bounds):
                    if policy == "max":
                        full = np.full(step.shape[:1] + step.shape[2:4], (r1 - r0) * self.v_max * g_top)
                    elif stats is None:
                        continue  # not calibrated yet: granular placeholder, matmul refuses to run
                    else:
                        full = stats[:, rb, :, :, cb]
                    st = np.where(full > 0, full / per_code, 1.0)
                    step[:, rb, :, :, q0:q1] = st[..., None]
        lo = -float(1 << (bits - 1)) * step if signed else np.zeros_like(step)
        inv = 1.0 / step
        for a in (lo, step, inv):
            a.flags.writeable = False
        return dataclasses.replace(self, adc_lo=lo, adc_step=step, adc_inv=inv)

    # ------------------------------------------------------------------ the analog MVM
    def noise_base(self, key) -> int:
        """Root stream key of the read noise of one MVM ``key``: the SplitMix64 chain
        ``h = mix(h + GOLDEN * (k + 1))`` over the key's integers, from a root drawn once from
        ``SeedSequence(seed, spawn_key=(..., read-noise tag))`` (a few microseconds per MVM, where
        a SeedSequence per key costs tens)."""
        h = self.noise_root
        g = int(rng.GOLDEN)
        for k in _key_tuple(key):
            h = rng.mix64_py(h + g * (k + 1))
        return h

    def stream_keys(self, key) -> np.ndarray:
        """Stream key of every (group, row block, slice, unit, conversion): shape (G, RB, S, CU, NC)."""
        n = self.groups * len(self.row_bounds) * self.slices * self.n_units * self.n_conv
        return rng.stream_keys_np(self.noise_base(key), np.arange(n)).reshape(
            self.groups, len(self.row_bounds), self.slices, self.n_units, self.n_conv)

    @property
    def has_read_noise(self) -> bool:
        return self.cfg.read_noise and self.S2fast is not None

    def matmul(self, X: np.ndarray, *, key=(0,), first_row: int = 0) -> np.ndarray:
        """``X @ W`` through the arrays: ``X`` (B, K) or (groups, B, K) -> (B, N) float64.

        ``key`` names this MVM (pass a new key for fresh read noise); ``first_row`` is the global index
        of ``X``'s first row, so a dataset cut into chunks gets the same numbers as in one piece."""
        X3, vec = self._inputs3(X)
        self._check_ready()
        key = _key_tuple(key)
        if isinstance(first_row, bool) or not isinstance(first_row, (int, np.integer)) or first_row < 0:
            raise ArchsimError(f"matmul: first_row = {first_row!r} is not allowed; allowed an integer >= 0")
        groups, B, Kd = X3.shape
        Ng, NC, CU = self.Ng, self.n_conv, self.n_units
        out = np.empty((B, self.N))
        if B == 0:
            return out[0] if vec else out
        noise = self.has_read_noise
        quant = not self.cfg.ideal_adc
        streams = self.stream_keys(key) if noise else None
        dt = np.dtype(self.cfg.precision)
        bc = max(1, min(B, self.cfg.chunk_elements // (NC * max(Ng, Kd))))
        Ibuf = _WS.get("I", (NC * bc, Ng), dt)
        varbuf = _WS.get("var", (NC * bc, Ng), np.float32) if noise else None
        accbuf = _WS.get("acc", (bc, Ng), np.float64) if groups > 1 else None
        qmax = float((1 << self.arch.adc_bits) - 1)
        par = self._parallel(NC * bc * Ng)
        scale = self.out_scale
        coef0 = self.conv_coef * scale        # the rescale to weight x input units, folded in
        for c0 in range(0, B, bc):
            c1 = min(B, c0 + bc)
            nb = c1 - c0
            for g in range(groups):
                V, V2, Vf, V2f = self._quantize(X3[g, c0:c1], noise)
                # accumulate straight into the output where it is contiguous (one group)
                acc = out[c0:c1] if groups == 1 else accbuf[:nb]
                I = Ibuf[:NC * nb]
                I3 = I.reshape(NC, nb, Ng)
                first = True
                for rb, (r0, r1) in enumerate(self.row_bounds):
                    for s in range(self.slices):
                        sw = float(1 << (self.bits_per_cell * s))
                        for cu in range(CU):
                            np.matmul(Vf[:, r0:r1], self.Gfast[cu, s, g, r0:r1], out=I)
                            coef = coef0 * (sw * self.signs[cu])
                            lo = self.adc_lo[g, rb, s, cu]
                            st = self.adc_step[g, rb, s, cu]
                            inv = self.adc_inv[g, rb, s, cu]
                            if noise:
                                var = varbuf[:NC * nb]
                                np.matmul(V2f[:, r0:r1], self.S2fast[cu, s, g, r0:r1], out=var)
                                K_.run_noise_adc_accumulate(I3, var.reshape(NC, nb, Ng), streams[g, rb, s, cu],
                                                            first_row + c0, Ng, lo, inv, st, qmax, coef, acc,
                                                            quant, par, first)
                            else:
                                K_.run_adc_accumulate(I3, lo, inv, st, qmax, coef, acc, quant, par, first)
                            first = False
                corr = self._offset_correction(V)
                if corr is not None:
                    acc -= (corr * scale)[:, None]
                if groups > 1:
                    out[c0:c1, g * Ng:(g + 1) * Ng] = acc
        return out[0] if vec else out

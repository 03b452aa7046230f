"""A weight matrix programmed onto crossbar arrays, and its analog matrix-vector products.

:class:`ProgrammedMatrix` programs one layer (split, quantization, device errors), calibrates its input
and ADC ranges and computes noisy MVMs; the model it implements is stated in the package docstring
(:mod:`archsim.sim.tilesim`).  Its derived shape lives in :mod:`.geometry`, its calibration in
:mod:`.calibration` and the stacked matrices its products read in :mod:`.stacked` (mixins it inherits).
"""
from __future__ import annotations

import dataclasses
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


from archsim.model.arch import Architecture
from archsim.model.device import Device
from archsim.model.errors import ArchsimError
from archsim.mapping.layout import LayerMap, ceil_div
from archsim.sim.tilesim import kernels as K_
from archsim.sim.tilesim import kernels_t as KT_
from archsim.sim.tilesim import rng
from archsim.sim.tilesim import support
from archsim.sim.tilesim.config import SimConfig
from archsim.sim.tilesim.calibration import Calibration
from archsim.sim.tilesim.ranges import adc_policy
from archsim.sim.tilesim.geometry import MatrixGeometry, row_partition
from archsim.sim.tilesim.stacked import StackedMatrices
from archsim.sim.tilesim.support import (_TAG_READ, _WS, _effective_blocks, _ir_drop_on, _key_tuple, _weights3,
                                         program_cells, program_pairs, seed_parts, slice_codes, weight_code_params,
                                         weight_scale)

#: kernel calls on fewer elements run serially even with ``SimConfig(parallel=True)``: waking the
#: thread pool costs more than it saves (measured on the 2-core development machine)
PARALLEL_MIN_ELEMENTS = 1 << 18
#: matmul calls with fewer multiply-adds (rows x conversions x stacked columns x K) run their rows in
#: one thread: starting a pool and holding BLAS to one thread costs about a millisecond
PARALLEL_MIN_WORK = 1 << 26
#: a call at least PARALLEL_MIN_WORK large is cut into this many row chunks, whatever the thread count
PARALLEL_SPLIT = 16
#: smaller calls with at least this many multiply-adds hold BLAS to one thread (about 0.1 ms to set)
BLAS_SINGLE_MIN_WORK = 1 << 20
#: layers with fewer columns per group take their products transposed and the column-major kernel (kernels_t)
COLMAJOR_MAX_COLS = 32

@dataclass(frozen=True, eq=False, kw_only=True)
class ProgrammedMatrix(Calibration, StackedMatrices, MatrixGeometry):
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
    wmax_code: float        # largest weight code (differential: 2^m - 1; offset: Q; pairs: F L + L_lsp)
    offset_code: int        # offset mapping: Q (subtracted digitally); differential: 0
    w_scale: float          # max |W|
    g_unit: float           # conductance step dg in S (digital device: 1/(2^b - 1))
    gmin_u: float           # g_min / dg
    gmax_u: float           # g_max / dg
    row_bounds: tuple = field(repr=False)   # ((r0, r1), ...) per row chunk converted on its own (array order)
    array_bounds: tuple = field(repr=False)  # ((r0, r1), ...) per physical row block (array order)
    row_order: np.ndarray | None = field(repr=False)  # matrix row of each array row (None: the same order)
    col_bounds: tuple = field(repr=False)   # ((c0, c1), ...) per column block
    blocks: tuple = field(repr=False)       # lm.blocks(rows, cols), as simulated
    codes: np.ndarray = field(repr=False)   # (copies, slices, groups, K, Ng) slice values (uint16)
    G: np.ndarray = field(repr=False)       # (copies, slices, groups, K, Ng) programmed conductances / dg
    S2: np.ndarray | None = field(repr=False)      # same shape, float32: read-noise variance / dg^2 (None: none)
    Gfast: np.ndarray = field(repr=False)   # (CU, slices, groups, K, Ng) what each conversion unit reads
    S2fast: np.ndarray | None = field(repr=False)  # (CU, ...) float32 read-noise variance of each unit
    signs: tuple            # sign of each conversion unit in the digital sum
    adc_transfer: int = 0   # the ADC's transfer function (archsim.model.adc_kinds.TRANSFERS) of arch's adc_type
    calibrated: bool = False
    x_max: float = 1.0
    x_signed: bool = False
    adc_lo: np.ndarray | None = field(default=None, repr=False)    # (groups, RB, slices, CU, Ng)
    adc_step: np.ndarray | None = field(default=None, repr=False)
    adc_inv: np.ndarray | None = field(default=None, repr=False)
    adc_full: np.ndarray | None = field(default=None, repr=False)  # calibrated full scales (G, RB, S, CU, CB)
    # derived, never copied by dataclasses.replace: stacked matrices per (dtype, group, row block), and
    # the counter of fresh read-noise keys (each object starts its own sequence at 0)
    _stacked: dict = field(init=False, repr=False, compare=False)
    _fresh: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_stacked", {})
        object.__setattr__(self, "_fresh", itertools.count())

    # ------------------------------------------------------------------ construction
    @classmethod
    def program(cls, W: np.ndarray, lm: LayerMap, arch: Architecture, device: Device,
                cfg: SimConfig = SimConfig(), seed=0) -> "ProgrammedMatrix":
        """Program ``W`` ((K, N), or (groups, K, N/groups)) as ``lm`` splits it on ``arch``'s arrays, with
        cells of ``device`` (the mapping's, :attr:`Mapping.device`).  Bits per cell, slices, copies and
        conversions are the LayerMap's; the architecture must be the one the layer was mapped on (same
        array size and signed-weight mapping), which is checked."""
        if not isinstance(cfg, SimConfig):
            raise ArchsimError(f"layer '{lm.layer}': cfg must be a SimConfig, got {type(cfg).__name__}")
        if not isinstance(device, Device):
            raise ArchsimError(f"layer '{lm.layer}': device must be a Device (the mapping's Mapping.device), "
                               f"got {type(device).__name__}")
        entropy, spawn = seed_parts(seed)
        dm = device
        if not dm.behaviour.converts and not cfg.ideal_adc:
            # digital compute-in-memory (SRAM with adder trees, as the cost model prices it): each column's
            # sum of input bit x weight bit products is an exact integer, with no converter to quantize it
            cfg = dataclasses.replace(cfg, ideal_adc=True)
        W3 = _weights3(W, lm)
        bpc = lm.bits_per_cell
        where = f"layer '{lm.layer}'"
        mb, wmax, off, _ = weight_code_params(arch, bpc, where)
        got = dict(copies=lm.copies, conversions=lm.conversions, row_blocks=lm.row_blocks, col_blocks=lm.col_blocks)
        expect = dict(copies=arch.copies, conversions=arch.conversions_per_pair,
                      row_blocks=lm.positions * ceil_div(lm.K // lm.positions, arch.rows),
                      col_blocks=ceil_div(lm.N // lm.groups, arch.cols))
        if lm.positions > 1 and (arch.conv_mapping != "kernel_position" or lm.kind != "conv"):
            expect["positions"], got["positions"] = 1, lm.positions
        if got != expect:
            raise ArchsimError(f"{where}: LayerMap {got} does not match architecture {arch.source} "
                               f"(which gives {expect}); map the layer with the same architecture and device")
        blocks = tuple(lm.blocks(arch.rows, arch.cols))
        if len(blocks) != lm.arrays:  # pragma: no cover - LayerMap invariant
            raise ArchsimError(f"{where}: LayerMap.blocks gives {len(blocks)} arrays, lm.arrays = {lm.arrays}")
        array_bounds, row_bounds = row_partition(lm, arch)
        col_bounds = tuple(sorted({(b[3], b[4]) for b in blocks}))
        order = lm.row_order()

        # ---- weight codes and conductances in units of dg, with every device error (support.program_cells);
        # conductance pairs: the closed loop of tilesim.pairs picks the codes as it programs (support.program_pairs)
        w_scale = weight_scale(W3)
        if arch.pairs:
            codes, G, S2, dg, gmin_u, gmax_u = program_pairs(W3, w_scale, arch, bpc, dm, cfg, entropy, spawn, where)
        else:
            codes = slice_codes(W3, w_scale, arch, bpc)  # (C, S, G, K, Ng)
            G, S2, dg, gmin_u, gmax_u = program_cells(codes, bpc, dm, cfg, entropy, spawn, where)

        # ---- every cell was programmed in matrix order (a weight's errors do not depend on where it sits);
        # the rows now take their places in the arrays (conv_mapping: kernel_position)
        if order is not None:
            codes, G = codes[:, :, :, order], G[:, :, :, order]
            S2 = None if S2 is None else S2[:, :, :, order]
        # ---- what the conversion units read (IR drop: each physical array's effective matrix; a row chunk read
        # alone drives its rows and holds the array's others at 0 V, so it reads the matrix's rows of the chunk)
        dt = np.dtype(np.float32 if cfg.precision == "float32" else np.float64)
        Gr = G
        if _ir_drop_on(cfg, arch, dm):
            Gr = _effective_blocks(G, dg, gmin_u, arch, array_bounds, col_bounds)
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
        pm = cls(layer=lm.layer, lm=lm, arch=arch, device=dm, cfg=cfg, entropy=entropy, spawn_key=spawn,
                 noise_root=noise_root, bits_per_cell=bpc, mag_bits=mb, wmax_code=wmax, offset_code=off,
                 w_scale=w_scale, g_unit=dg, gmin_u=gmin_u, gmax_u=gmax_u, row_bounds=row_bounds,
                 array_bounds=array_bounds, row_order=order, col_bounds=col_bounds, blocks=blocks, codes=codes, G=G,
                 S2=S2, Gfast=Gf, S2fast=S2f, signs=signs,
                 adc_transfer=support.adc_transfer(arch))
        return pm._with_ranges(None)

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
        if self.row_order is not None:    # inputs in array order, keeping their memory order
            X = (X.swapaxes(1, 2)[:, self.row_order].swapaxes(1, 2) if X.strides[1] < X.strides[2]
                 else X[:, :, self.row_order])
        return X, vec

    def _quantize(self, Xg: np.ndarray, want_v2: bool, dt=None):
        """DAC codes of ``Xg`` (B, K): ``V`` and ``V2`` (NC, B, K) views and ``Vf``, ``V2f`` (NC*B, K)
        for the matrix products (``V`` in ``dt``, default float64; ``V2`` float32, not written unless
        ``want_v2``); column-major when ``Xg`` is (im2col's layout), so that every pass runs in memory
        order."""
        nb, k = Xg.shape
        nc = self.n_conv
        dt = np.float64 if dt is None else dt
        if Xg.strides[0] < Xg.strides[1]:
            bufv = _WS.get("V", (k, nc * nb), dt)
            bufw = _WS.get("V2", (k, nc * nb) if want_v2 else (1, 1), np.float32)
            V = bufv.reshape(k, nc, nb).transpose(1, 2, 0)
            V2 = bufw.reshape(k, nc, nb).transpose(1, 2, 0) if want_v2 else bufw.reshape(1, 1, 1)
            Vf, V2f = bufv.T, bufw.T
        else:
            Vf = _WS.get("V", (nc * nb, k), dt)
            V2f = _WS.get("V2", (nc * nb, k) if want_v2 else (1, 1), np.float32)
            V = Vf.reshape(nc, nb, k)
            V2 = V2f.reshape(nc, nb, k) if want_v2 else V2f.reshape(1, 1, 1)
        lo = -float(self.x_code_max) if self.x_signed else 0.0
        par = self._parallel(Xg.size * nc)
        if self.conv_mode == 0 and nc > 1 and not want_v2 and not par and Xg.strides[0] < Xg.strides[1]:
            # the bit-serial default on im2col's column-major rows: pulse planes written as contiguous runs
            bad = K_.quantize_planes_cm(Xg, float(self.x_scale), lo, float(self.x_code_max), int(self.arch.dac_bits),
                                        int(nc), bufv, _WS.get("codes", (nb,), np.int64),
                                        _WS.get("sg", (nb,), np.float64))
        else:
            bad = K_.run_quantize(Xg, self.x_scale, lo, float(self.x_code_max), self.conv_mode, self.arch.dac_bits,
                                  self.arch.input_pulses, V, V2, want_v2, par)
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
        scope = adc_policy(self.arch, self.cfg)[0]
        needs_adc = (not self.cfg.ideal_adc) and scope in ("array", "layer")
        if (needs_x or needs_adc) and not self.calibrated:
            why = "the DAC needs an input range" if needs_x else f"adc_range '{scope}' needs ADC ranges"
            raise ArchsimError(f"layer '{self.layer}': call calibrate(X_calibration) before matmul ({why})")

    # ------------------------------------------------------------------ the analog MVM
    #: first integer of the keys :meth:`matmul` draws when no key is given: ``(FRESH_KEY, i)`` for the
    #: object's i-th such call (i = 0, 1, ...)
    FRESH_KEY = (1 << 63) - 1

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

    def next_fresh_key(self) -> tuple[int, int]:
        """The key the next :meth:`matmul` without a key will use, consumed: ``(FRESH_KEY, i)``."""
        return (self.FRESH_KEY, next(self._fresh))

    @property
    def has_read_noise(self) -> bool:
        return self.cfg.read_noise and self.S2fast is not None

    def matmul(self, X: np.ndarray, *, key=None, first_row: int = 0, threads: int | None = None,
               dtype=np.float64) -> np.ndarray:
        """``X @ W`` through the arrays: ``X`` (B, K) or (groups, B, K) -> (B, N) float64 (``dtype``: the
        float64 sums rounded once to that dtype, as ``astype`` of the float64 result gives).

        ``key`` names this MVM's read noise: ``None`` (default) draws fresh noise on every call, from
        the keys ``(FRESH_KEY, 0)``, ``(FRESH_KEY, 1)``, ... of this object (so the sequence of calls is
        a pure function of the programming seed); a given key pins the noise.  ``first_row`` is the
        global index of ``X``'s first row, so a dataset cut into chunks gets the same numbers as in
        one piece (with a pinned key).

        Per chunk of rows and row block, one BLAS product covers every conversion (pulses stacked as
        row planes) and every unit (slices x arrays of the pair, side by side as columns; with 0/1
        pulse codes the read-noise variance matrices too); one fused kernel then adds the read noise,
        converts and shift-adds.  ``threads``: threads that split a large call's rows (default
        ``cfg.threads``; the result does not depend on it)."""
        X3, vec = self._inputs3(X)
        self._check_ready()
        groups, B, Kd = X3.shape

        def quantize(g, c0, c1, want_v2, dt):
            return self._quantize(X3[g, c0:c1], want_v2, dt)
        return self._matmul(quantize, groups, B, Kd, key, first_row, vec, threads, dtype)

    def matmul_maps(self, x: np.ndarray, kernel, stride, padding, out_hw, *, key=None, first_row: int = 0,
                    threads: int | None = None, dtype=np.float64) -> np.ndarray:
        """``matmul(im2col(x))`` of a one-group convolution, read from its input maps ``x`` (B, C, H, W)
        (kernel ``(kh, kw)``, stride ``(sh, sw)``, zero padding ``(top, left, bottom, right)``, output
        ``(Ho, Wo)``): the same numbers bit for bit, without writing the im2col matrix (:mod:`.convq`).
        Rows are the im2col rows (image, oh, ow), so ``first_row`` counts them the same way."""
        from archsim.sim.tilesim import convq
        self._check_ready()
        geom = tuple(tuple(int(v) for v in t) for t in (kernel, stride, padding, out_hw))
        if self.groups != 1 or x.ndim != 4 or x.shape[1] * geom[0][0] * geom[0][1] != self.K:
            raise ArchsimError(f"layer '{self.layer}': maps of shape {x.shape} with kernel {geom[0]} do not fit "
                               f"{self.K} rows of one group")

        return self._matmul(convq.MapRows(self, x, geom), 1, x.shape[0] * geom[3][0] * geom[3][1], self.K, key, first_row, False,
                            threads, dtype)

    def _matmul(self, quantize, groups: int, B: int, Kd: int, key, first_row, vec: bool, threads,
                dtype=np.float64) -> np.ndarray:
        key = self.next_fresh_key() if key is None else _key_tuple(key)
        if isinstance(first_row, bool) or not isinstance(first_row, (int, np.integer)) or first_row < 0:
            raise ArchsimError(f"matmul: first_row = {first_row!r} is not allowed; allowed an integer >= 0")
        Ng, NC, CU, S = self.Ng, self.n_conv, self.n_units, self.slices
        U = S * CU
        # narrow layers: products transposed and the column-major kernel (kernels_t), the output (N, B) in memory,
        # each column's sums accumulated in a chunk's buffer (in cache) and rounded once into it; wider layers keep
        # the row-major products and kernel, whose rows of columns are long enough (measured: the same speed from
        # 32 columns on, and the column-major normals of a block spill the cache from a few hundred columns)
        colmajor = Ng < COLMAJOR_MAX_COLS
        outT = np.empty((self.N, B), dtype=dtype) if colmajor else None
        out = outT.T if colmajor else np.empty((B, self.N), dtype=dtype)
        direct = not colmajor and groups == 1 and out.dtype == np.float64   # row-major: sums straight into out
        if B == 0:
            return out[0] if vec else out
        noise = self.has_read_noise
        quant = not self.cfg.ideal_adc
        dt = self.compute_dtype
        fuse = noise and dt == np.float32 and self._v2_is_v
        ncols = U * Ng * (2 if fuse else 1)
        streams = self.stream_keys(key).reshape(groups, len(self.row_bounds), U, NC) if noise else None
        if hasattr(quantize, "prepare"):
            quantize.prepare(noise and not fuse, dt)      # work shared by every chunk, done once in this thread
        bc = max(1, min(B, self.cfg.chunk_elements // (NC * max(ncols, Kd))))
        big = B * NC * ncols * Kd >= PARALLEL_MIN_WORK
        threads = (threads or support.matmul_threads(self.cfg)) if big else 1
        if big:
            # a large call is cut into PARALLEL_SPLIT chunks whatever the thread count, and BLAS runs on one
            # thread inside each, so 1 or N threads make the very same BLAS calls: identical by construction
            bc = min(bc, -(-B // PARALLEL_SPLIT))
        qmax = float((1 << self.arch.adc_bits) - 1)
        par = self._parallel(NC * bc * U * Ng)
        scale = self.out_scale
        coef0 = self.conv_coef * scale        # the rescale to weight x input units, folded in
        w_unit = np.array([self.slice_weights[s] * self.signs[cu] for s in range(S) for cu in range(CU)])
        coef = np.ascontiguousarray(w_unit[:, None] * coef0[None, :])     # (U, NC)
        RB = len(self.row_bounds)
        lo_all = self.adc_lo.reshape(groups, RB, U, Ng)
        st_all = self.adc_step.reshape(groups, RB, U, Ng)
        inv_all = self.adc_inv.reshape(groups, RB, U, Ng)
        no_streams = np.zeros((U, NC), np.uint64)
        no_var = np.zeros((1, 1), np.float32)
        if colmajor:
            kernel = KT_.units_accumulate_t_par if par else KT_.units_accumulate_t
        else:
            rowk = K_.units_accumulate_par if par else K_.units_accumulate

            def kernel(M, Mv, vcol0, keys, row0, ncol, lo, inv, step, qmax, coef, acc, noise, quant, init, tf):
                rowk(M, Mv, vcol0, keys, row0, ncol, lo, inv, step, qmax, coef, acc, noise, quant, init,
                     rng.ZIG_X, rng.ZIG_R, rng.ZIG_F, tf)
        tf = int(self.adc_transfer)
        # per group, the row blocks' operands, looked up once per call (a call runs hundreds of chunks x blocks)
        plan = [[(rb, r0, r1, self._stack(dt, g, rb, fuse), self._stack_var(g, rb) if noise and not fuse else None,
                  streams[g, rb] if noise else no_streams, lo_all[g, rb], inv_all[g, rb], st_all[g, rb])
                 for rb, (r0, r1) in enumerate(self.row_bounds) if r1 > r0]   # empty row chunks read 0: skipped
                for g in range(groups)]
        tr = (lambda A: None if A is None else self._transposed(A)) if colmajor else (lambda A: None)
        plan = [[(rb, r0, r1, tr(A), tr(Av), A, Av, *rest)
                 for rb, r0, r1, A, Av, *rest in blocks] for blocks in plan]

        def product(V, A, AT, MT):
            # MT = (V @ A).T into the C-ordered MT (ncols, rows), taken as A.T @ V.T: BLAS writes rows as long as
            # the batch where V @ A writes rows of ncols (1.2-1.9x faster for narrow layers).  The sums of one
            # layout are those of the other up to float rounding (the float32 error bound holds for any summation
            # order); either layout of V (im2col's column-major or row-major) gives the same BLAS call and the
            # same numbers.  One column: V @ A (a matrix-vector product, which BLAS sums differently by layout;
            # MT (1, rows) is then the (rows, 1) result's memory)
            if not colmajor:
                np.matmul(V, A, out=MT)           # row-major: (rows, ncols)
            elif MT.shape[0] == 1:
                np.matmul(V, A, out=MT.reshape(-1, 1))
            else:
                np.matmul(AT, V.T, out=MT)

        def chunk(c0):
            c1 = min(B, c0 + bc)
            nb = c1 - c0
            # per thread (the workspace is thread-local); column currents and sums transposed (kernels_t)
            Mbuf = _WS.get("IT", (ncols * NC * bc,), dt)
            varbuf = _WS.get("varT", (U * Ng * NC * bc,), np.float32) if (noise and not fuse) else None
            accbuf = _WS.get("accT", (Ng * bc,), np.float64)[:Ng * nb]
            shape = (lambda r, c: (c, r)) if colmajor else (lambda r, c: (r, c))
            M = Mbuf[:ncols * NC * nb].reshape(shape(NC * nb, ncols))
            acc = out[c0:c1] if direct else accbuf.reshape(shape(nb, Ng))
            Mv, vrow0 = (M, U * Ng) if fuse else (no_var, 0)
            if noise and not fuse:
                Mv = varbuf[:U * Ng * NC * nb].reshape(shape(NC * nb, U * Ng))
            for g in range(groups):
                V, V2, Vf, V2f = quantize(g, c0, c1, noise and not fuse, dt)
                for rb, r0, r1, AT, AvT, A, Av, keys, lo, inv, step in plan[g]:
                    product(Vf[:, r0:r1], A, AT, M)
                    if Av is not None:
                        product(V2f[:, r0:r1], Av, AvT, Mv)
                    kernel(M, Mv, vrow0, keys, first_row + c0, Ng, lo, inv, step, qmax, coef, acc, noise, quant,
                           rb == 0, tf)
                corr = self._offset_correction(V)
                if corr is not None:
                    acc -= (corr * scale)[None, :] if colmajor else (corr * scale)[:, None]
                if colmajor:
                    outT[g * Ng:(g + 1) * Ng, c0:c1] = acc
                elif not direct:
                    out[c0:c1, g * Ng:(g + 1) * Ng] = acc

        starts = range(0, B, bc)
        if big:
            # rows split across threads; every row's numbers are a pure function of its global index,
            # so the result does not depend on the thread count
            with support.blas_single_thread():
                if threads > 1 and len(starts) > 1:
                    with ThreadPoolExecutor(threads) as ex:
                        list(ex.map(chunk, starts))
                else:
                    for c0 in starts:
                        chunk(c0)
        elif B * NC * ncols * Kd >= BLAS_SINGLE_MIN_WORK:
            # mid-sized calls in this thread with BLAS on one thread too: a multi-threaded BLAS on these
            # products waited for a descheduled worker on every call on the busy 2-core machine (LeNet-5's
            # conv1 with one pulse: 358 ms against 6 ms of CPU); same sums (OpenBLAS never splits K)
            with support.blas_single_thread():
                for c0 in starts:
                    chunk(c0)
        else:
            for c0 in starts:
                chunk(c0)
        return out[0] if vec else out

"""The numba kernel that advances a compiled spiking network, and its seeded random numbers.

Everything here works on flat arrays built by :func:`cpg_controller.network.compile`; the Python
wrapper is :class:`cpg_controller.network.Network`. One call of :func:`advance` runs ``n_ticks``
control ticks of ``n_sub`` substeps each (a 1 ms tick at dt = 0.1 ms is 10 substeps), so the
per-call overhead (about 1 µs) is paid once per tick, not once per substep.

Order of one substep k (the same as Brian2's default schedule groups -> thresholds -> synapses ->
resets, which the Brian2 reference test relies on):

1. every neuron's state is integrated from t_k to t_k + dt with the inputs held at their values at
   t_k (LIF: exponential Euler or Euler; Izhikevich: forward Euler, all derivatives from the old
   state); synaptic currents and the adaptation current decay by their per-step factors;
2. a neuron whose membrane reached its threshold spikes; the spike is recorded with time t_k;
3. the spike is pushed, synapse by synapse (event-driven, never a dense product), into the delay
   ring buffer at slot (k + delay_steps) mod L;
4. the spiking neuron is reset (v, u += d, w += b_w, refractory counter);
5. ring-buffer slot k mod L is added to the excitatory / inhibitory synaptic currents and cleared,
   so a spike with delay D steps changes the target's synaptic current at the end of step k + D
   and acts on its membrane from step k + D + 1 on.

Random numbers: xoshiro256** (Blackman & Vigna) seeded by splitmix64, normals by a 256-layer
ziggurat (Marsaglia & Tsang 2000). The generator state lives in the network's own array, so two
networks never share a stream and a run is bitwise reproducible for a seed.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- layout of the flat arrays (shared with network.py) ---------------------------------------
# The kernel takes two arenas so that a call passes few arguments (numba's dispatch costs about
# 85 ns per array argument, a large share of a 1 ms tick): ``fa`` (float64) and ``ia`` (int64),
# each a header of sizes/offsets followed by the blocks below; :func:`layout` computes them.
#
# float arena blocks
#   state (N_STATE, n)   rows S_*; the Network's v, u, ... are views of it
#   par   (N_PAR, n)     per-neuron parameters, rows P_*
#   pops  (n_pops, N_POP) per-population columns Q_* (drive and sigma change at run time)
#   rates (n_pops,)      output: rate (Hz per neuron) of each population in the last tick
#   w     (S,)           synaptic weights (current jump, the target's current unit)
#   ring  (L, 2n)        delay ring buffer: column t < n excitatory input of neuron t,
#                        column n + t inhibitory input of neuron t; L = max delay steps + 1
#   zig   (2, 257)       ziggurat tables (layer edges, density at the edges)
# int arena blocks
#   indptr (n + 1,)      CSR row pointers of each neuron's outgoing synapses
#   target (S,)          ring column of each synapse (target, + n if inhibitory)
#   delay  (S,)          delay in steps
#   touched (L, 2n + 2)  per ring slot: count, then the ring columns written since it was
#                        delivered (so delivery costs one operation per written column), then
#                        one scratch entry
#   pop_of (n,)          population index of each neuron
S_V, S_U, S_W, S_EXC, S_INH, S_REF, S_NOISE, S_W2 = range(8)
N_STATE = 8
# per-neuron parameter rows; rows 0-2 depend on the model
P_0, P_1, P_2, P_VTH, P_VRESET, P_REF, P_FW, P_BW, P_FEXC, P_FINH, P_BIAS, P_UINC = range(12)
P_KEXC, P_KINH = 12, 13   # 1 / saturation level of the exc / inh synaptic current (0: linear)
P_FW2, P_BW2 = 14, 15     # second (slow) adaptation current: decay factor, increment
P_DRIVE, P_SIGMA = 16, 17  # the population's tonic drive and noise sigma, copied per neuron
P_BASE = 18                # constant input: LIF v_rest + R (drive + bias), Izhikevich drive + bias
N_PAR = 19
# (P_BASE is derived: call base_input() after changing P_DRIVE, P_BIAS, P_0 or P_1)
# LIF: P_0 = v_rest (mV), P_1 = R (MΩ), P_2 = membrane factor f_m
# Izhikevich: P_0 = a (1/ms), P_1 = b (1/ms), P_2 unused
# per-population columns
Q_START, Q_STOP, Q_MODEL, Q_DRIVE, Q_SIGMA, Q_INV_SIZE = range(6)
N_POP = 6
# Neurons are laid out in model blocks, LIF first: [0, n_lif) LIF, [n_lif, n) Izhikevich, so the
# update loops run over whole blocks (LLVM vectorises them; short per-population loops it does not)
MODEL_LIF, MODEL_IZH = 0, 1
# float header
F_DT_MS, F_DT = 0, 1
F_HEAD = 4
# int header: sizes, then block offsets
(H_N, H_POPS, H_SYN, H_SLOTS, H_NOISE_STEPS, H_ST, H_PAR, H_POP, H_RATES, H_W, H_RING, H_ZIG,
 H_INDPTR, H_TARGET, H_DELAY, H_TOUCHED, H_N_LIF, H_POP_OF, H_FLAGS) = range(19)
I_HEAD = 19
# H_FLAGS bits (set by network_flags at compile time and by Network.set_noise), so that the kernel
# needs no scan over the neurons per call to find out which optional parts it can skip
FLAG_NOISY, FLAG_SATURATING, FLAG_W2 = 1, 2, 4
# control words (uint64): the substep clock, then the four xoshiro256** words
C_CLOCK = 0
N_CTL = 5
# recorded spikes, shape (2, capacity): row 0 the substep index, row 1 the neuron index
R_STEP, R_INDEX = 0, 1


def layout(n: int, n_pops: int, n_syn: int, n_slots: int, noise_steps: int, n_lif: int):
    """Sizes and offsets of the arenas: (int header array, float arena size, int arena size)."""
    head = np.zeros(I_HEAD, dtype=np.int64)
    head[H_N], head[H_POPS], head[H_SYN], head[H_SLOTS] = n, n_pops, n_syn, n_slots
    head[H_NOISE_STEPS] = noise_steps
    head[H_N_LIF] = n_lif
    o = F_HEAD
    for key, size in ((H_ST, N_STATE * n), (H_PAR, N_PAR * n), (H_POP, N_POP * n_pops),
                      (H_RATES, n_pops), (H_W, n_syn), (H_RING, n_slots * 2 * n), (H_ZIG, 2 * 257)):
        head[key] = o
        o += size
    f_size = o
    o = I_HEAD
    for key, size in ((H_INDPTR, n + 1), (H_TARGET, n_syn), (H_DELAY, n_syn),
                      (H_TOUCHED, n_slots * (2 * n + 2)), (H_POP_OF, n)):
        head[key] = o
        o += size
    return head, f_size, o


_MASK64 = (1 << 64) - 1


def network_flags(par: np.ndarray, n_lif: int) -> int:
    """H_FLAGS word for a parameter block: noise anywhere, saturating LIF synapses, a second
    adaptation current anywhere."""
    flags = 0
    if np.any(par[P_SIGMA] > 0.0):
        flags |= FLAG_NOISY
    if np.any(par[P_KEXC, :n_lif] != 0.0) or np.any(par[P_KINH, :n_lif] != 0.0):
        flags |= FLAG_SATURATING
    if np.any(par[P_BW2] != 0.0):
        flags |= FLAG_W2
    return flags


def base_input(par: np.ndarray, n_lif: int) -> None:
    """Recompute the P_BASE row from drive, bias (and v_rest, R for the LIF block)."""
    par[P_BASE, :n_lif] = par[P_0, :n_lif] + par[P_1, :n_lif] * (par[P_DRIVE, :n_lif]
                                                                  + par[P_BIAS, :n_lif])
    par[P_BASE, n_lif:] = par[P_DRIVE, n_lif:] + par[P_BIAS, n_lif:]


# --- random numbers ------------------------------------------------------------------------------
def seed_words(seed: int) -> np.ndarray:
    """Four xoshiro256** state words from an integer seed (splitmix64, as the authors recommend)."""
    x = int(seed) & _MASK64
    words = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        words.append(z ^ (z >> 31))
    return np.array(words, dtype=np.uint64)


def _ziggurat_tables():
    """Layer edges x[0..256] and f(x) = exp(-x²/2) for a 256-layer ziggurat of equal areas."""
    r, area = 3.6541528853610088, 4.92867323399e-3
    x = np.zeros(257)
    x[0] = area / math.exp(-0.5 * r * r)
    x[1] = r
    for i in range(1, 255):
        x[i + 1] = math.sqrt(-2.0 * math.log(math.exp(-0.5 * x[i] * x[i]) + area / x[i]))
    x[256] = 0.0
    return x, np.exp(-0.5 * x * x)


ZIG_X, ZIG_F = _ziggurat_tables()


@njit(cache=True, inline='always')
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline='always')
def _xoshiro(s0, s1, s2, s3):
    """One xoshiro256** step on a state held in locals: (64 random bits, new state)."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True, inline='always')
def _uniform(bits):
    """Uniform in [0, 1) from the top 53 of 64 random bits."""
    # via int64: x86 converts signed integers to float in one instruction, unsigned ones not
    return float(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline='always')  # inlined: 2.7 instead of 9.6 ns per normal
def _normal(s0, s1, s2, s3, zx, zf):
    """Standard normal by the ziggurat method (about 99% of draws take the fast path):
    (value, new state)."""
    while True:
        bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        layer = np.int64(bits & np.uint64(255))
        # the sign as a factor, not a branch (a coin flip mispredicts half the time)
        sign = 1.0 - 2.0 * float(np.int64((bits >> np.uint64(8)) & np.uint64(1)))
        x = _uniform(bits) * zx[layer]
        if x < zx[layer + 1]:
            return sign * x, s0, s1, s2, s3
        if layer == 0:  # the tail beyond r (Marsaglia's method)
            r = zx[1]
            while True:
                bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                a = -math.log(1.0 - _uniform(bits)) / r
                bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                b = -math.log(1.0 - _uniform(bits))
                if 2.0 * b > a * a:
                    break
            return sign * (r + a), s0, s1, s2, s3
        bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        y = zf[layer] + _uniform(bits) * (zf[layer + 1] - zf[layer])
        if y < math.exp(-0.5 * x * x):
            return sign * x, s0, s1, s2, s3


@njit(cache=True)
def fill_noise(ctl, zx, zf, sigma, out):
    """out[i] = sigma[i] * N(0, 1) for every i with sigma[i] > 0; ctl[1:5] is the RNG state."""
    s0, s1, s2, s3 = ctl[1], ctl[2], ctl[3], ctl[4]
    for i in range(out.size):
        if sigma[i] > 0.0:
            x, s0, s1, s2, s3 = _normal(s0, s1, s2, s3, zx, zf)
            out[i] = sigma[i] * x
    ctl[1], ctl[2], ctl[3], ctl[4] = s0, s1, s2, s3


@njit(cache=True)
def normals(ctl, zx, zf, out):
    """Fill ``out`` with standard normals (for tests of the generator)."""
    fill_noise(ctl, zx, zf, np.ones(out.size), out)


# --- the network kernel ---------------------------------------------------------------------
@njit(cache=True, error_model='numpy')
def advance(fa, ia, ctl, counts, rec, n_ticks, n_sub):
    """Advance the network ``n_ticks`` ticks of ``n_sub`` substeps (arenas: see :func:`layout`).

    fa, ia      the float and int arenas; state, ring buffer and rates are changed in place
    ctl         uint64 substep clock and RNG state, changed in place
    counts      (>= n_ticks, n_pops) float64 output: spikes per population per tick
    rec         (2, capacity) int64 output: (substep index, neuron index) of every spike

    Returns (ticks done, spikes recorded). The call stops early, at a tick boundary, when fewer
    than n_sub * n free entries remain in ``rec``; the caller grows ``rec`` and calls again.
    Loop indices are unsigned so that numba drops its negative-index wrap-around, which would
    otherwise keep LLVM from vectorising the update loops.
    """
    n = ia[H_N]
    n_pops = ia[H_POPS]
    n_syn = ia[H_SYN]
    n_slots = ia[H_SLOTS]
    noise_steps = ia[H_NOISE_STEPS]
    dt_ms = fa[F_DT_MS]
    st = fa[ia[H_ST]:ia[H_ST] + N_STATE * n].reshape((N_STATE, n))
    par = fa[ia[H_PAR]:ia[H_PAR] + N_PAR * n].reshape((N_PAR, n))
    pops = fa[ia[H_POP]:ia[H_POP] + N_POP * n_pops].reshape((n_pops, N_POP))
    rates = fa[ia[H_RATES]:ia[H_RATES] + n_pops]
    syn_w = fa[ia[H_W]:ia[H_W] + n_syn]
    ring = fa[ia[H_RING]:ia[H_RING] + n_slots * 2 * n].reshape((n_slots, 2 * n))
    zig = fa[ia[H_ZIG]:ia[H_ZIG] + 2 * 257].reshape((2, 257))
    zx = zig[0]
    zf = zig[1]
    indptr = ia[ia[H_INDPTR]:ia[H_INDPTR] + n + 1]
    syn_target = ia[ia[H_TARGET]:ia[H_TARGET] + n_syn]
    syn_delay = ia[ia[H_DELAY]:ia[H_DELAY] + n_syn]
    touched = ia[ia[H_TOUCHED]:ia[H_TOUCHED] + n_slots * (2 * n + 2)].reshape((n_slots, 2 * n + 2))
    pop_of = ia[ia[H_POP_OF]:ia[H_POP_OF] + n]
    v = st[S_V]
    u = st[S_U]
    w = st[S_W]
    w2 = st[S_W2]
    i_exc = st[S_EXC]
    i_inh = st[S_INH]
    ref = st[S_REF]
    noise = st[S_NOISE]
    base = par[P_BASE]
    sigma = par[P_SIGMA]
    k_exc = par[P_KEXC]
    k_inh = par[P_KINH]
    f_exc = par[P_FEXC]
    f_inh = par[P_FINH]
    f_w = par[P_FW]
    f_w2 = par[P_FW2]
    v_th = par[P_VTH]
    zero = np.uint64(0)
    n_u = np.uint64(n)
    n_lif = np.uint64(ia[H_N_LIF])
    flags = ia[H_FLAGS]
    noisy = (flags & FLAG_NOISY) != 0
    saturating = (flags & FLAG_SATURATING) != 0
    has_w2 = (flags & FLAG_W2) != 0
    capacity = rec.shape[1]
    n_rec = 0
    for tick in range(n_ticks):
        if capacity - n_rec < n_sub * n:
            return tick, n_rec
        for p in range(n_pops):
            counts[tick, p] = 0.0
        for _ in range(n_sub):
            clock = np.int64(ctl[C_CLOCK])
            slot = clock % n_slots
            if noisy and clock % noise_steps == 0:
                fill_noise(ctl, zx, zf, sigma, noise)
            # 1. integrate, LIF block then Izhikevich block (no calls, no stores outside the
            #    state rows: LLVM vectorises these loops); the saturating synaptic input has
            #    its own loops so that networks without it skip two divisions per neuron; count
            #    the neurons that reached threshold, so that the scan below can stop early
            n_cross = 0
            # each loop also decays that neuron's synaptic and (first) adaptation currents after
            # using them (fused: one pass over the state instead of two); flush to zero below
            # 1e-30 (these currents are >= 0) so that long silences never reach subnormal
            # numbers, whose arithmetic is very slow
            if saturating:
                for i in range(zero, n_lif):
                    ie = i_exc[i]
                    ii = i_inh[i]
                    wi = w[i]
                    v_inf = base[i] + par[P_1, i] * (
                        noise[i] - wi - w2[i] + ie / (1.0 + k_exc[i] * ie)
                        - ii / (1.0 + k_inh[i] * ii))
                    v_new = v_inf + (v[i] - v_inf) * par[P_2, i]
                    r = ref[i] - 1.0 if ref[i] > 0.5 else 0.0
                    ref[i] = r
                    v_new = v_new if r < 0.5 else v[i]
                    v[i] = v_new
                    n_cross += 1 if v_new >= v_th[i] else 0
                    x = ie * f_exc[i]
                    i_exc[i] = x if x > 1e-30 else 0.0
                    x = ii * f_inh[i]
                    i_inh[i] = x if x > 1e-30 else 0.0
                    x = wi * f_w[i]
                    w[i] = x if x > 1e-30 else 0.0
            else:
                for i in range(zero, n_lif):
                    ie = i_exc[i]
                    ii = i_inh[i]
                    wi = w[i]
                    v_inf = base[i] + par[P_1, i] * (noise[i] - wi - w2[i] + ie - ii)
                    v_new = v_inf + (v[i] - v_inf) * par[P_2, i]
                    r = ref[i] - 1.0 if ref[i] > 0.5 else 0.0
                    ref[i] = r
                    v_new = v_new if r < 0.5 else v[i]
                    v[i] = v_new
                    n_cross += 1 if v_new >= v_th[i] else 0
                    x = ie * f_exc[i]
                    i_exc[i] = x if x > 1e-30 else 0.0
                    x = ii * f_inh[i]
                    i_inh[i] = x if x > 1e-30 else 0.0
                    x = wi * f_w[i]
                    w[i] = x if x > 1e-30 else 0.0
            for i in range(n_lif, n_u):
                ie = i_exc[i]
                ii = i_inh[i]
                wi = w[i]
                current = (base[i] + noise[i] - wi - w2[i]
                           + ie / (1.0 + k_exc[i] * ie)
                           - ii / (1.0 + k_inh[i] * ii))
                vi = v[i]
                ui = u[i]
                # the operand order of Brian2's generated code, so that a single neuron
                # matches it bitwise (FS is sensitive to the last bit over 1 s)
                v_new = dt_ms * ((140.0 + ((current + 0.04 * (vi * vi)) + 5.0 * vi)) - ui) + vi
                v[i] = v_new
                u[i] = dt_ms * (par[P_0, i] * ((par[P_1, i] * vi) - ui)) + ui
                n_cross += 1 if v_new >= v_th[i] else 0
                x = ie * f_exc[i]
                i_exc[i] = x if x > 1e-30 else 0.0
                x = ii * f_inh[i]
                i_inh[i] = x if x > 1e-30 else 0.0
                x = wi * f_w[i]
                w[i] = x if x > 1e-30 else 0.0
            # the second adaptation current: skipped when no neuron has one (it then stays 0)
            if has_w2:
                for i in range(n_u):
                    x = w2[i] * f_w2[i]
                    w2[i] = x if x > 1e-30 else 0.0
            # 2-4. threshold, record, propagate into the ring buffer, reset
            i = zero
            while n_cross > 0:
                if v[i] >= v_th[i]:
                    n_cross -= 1
                    counts[tick, pop_of[i]] += 1.0
                    rec[R_STEP, n_rec] = clock
                    rec[R_INDEX, n_rec] = i
                    n_rec += 1
                    # each neuron's synapses are sorted by delay: one ring row and one
                    # write list per run of equal delays, the list's count kept in a local
                    s = indptr[i]
                    end = indptr[i + 1]
                    while s < end:
                        delay = syn_delay[s]
                        k = slot + delay
                        if k >= n_slots:
                            k -= n_slots
                        ring_row = ring[k]
                        written = touched[k]
                        count = written[0]
                        while s < end and syn_delay[s] == delay:
                            column = syn_target[s]
                            # list the column if this is its first input in this slot, without
                            # a branch: always write it one past the list, count it only if new
                            written[count + 1] = column
                            count += np.int64(ring_row[column] == 0.0)
                            ring_row[column] += syn_w[s]
                            s += 1
                        written[0] = count
                    v[i] = par[P_VRESET, i]
                    u[i] += par[P_UINC, i]
                    w[i] += par[P_BW, i]
                    if has_w2:
                        w2[i] += par[P_BW2, i]
                    ref[i] = par[P_REF, i]
                i += np.uint64(1)
            # 5. deliver this step's ring slot: only the columns written into it
            for j in range(1, touched[slot, 0] + 1):
                column = touched[slot, j]
                if column < n:
                    i_exc[column] += ring[slot, column]
                else:
                    i_inh[column - n] += ring[slot, column]
                ring[slot, column] = 0.0
            touched[slot, 0] = 0
            ctl[C_CLOCK] = np.uint64(clock + 1)
        for p in range(n_pops):
            rates[p] = counts[tick, p] * pops[p, Q_INV_SIZE] / (n_sub * fa[F_DT])
    return n_ticks, n_rec

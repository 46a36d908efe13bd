"""Mechanical checks of the algebraic steps in ``proofs/*.md``.

Each ``check_*`` function verifies one step with sympy and returns ``True`` when it holds. The
constants a proof uses are parameters, so a test can show that a wrong constant makes the check
fail. The ``check_*_in_library`` functions at the end import geoconstruct and compare the
library's own functions and constants with the proofs' thresholds at sampled sizes, so a changed
constant in the library fails them too. ``proofs/test_sympy_checks.py`` runs every check.
"""

from __future__ import annotations

import itertools

import sympy as sp

ZERO, ONE, TWO, FOUR = sp.Integer(0), sp.Integer(1), sp.Integer(2), sp.Integer(4)
HALF = sp.Rational(1, 2)
THIRTY_TWO = sp.Integer(32)

# ---------------------------------------------------------------------------- gate_lemma.md


def check_gate_lemma() -> bool:
    """relu(z + λG) − relu(−z + λG) = z if G = 0, and 0 if G <= −1, whenever |z| <= λ.

    Cases: write z = λ(2s − 1) with s ∈ [0, 1] (so |z| <= λ), G = −(1 + m) with m >= 0.
    """
    lam = sp.Symbol("lambda", positive=True)
    s_lo = sp.Symbol("s", nonnegative=True)  # s
    s_hi = sp.Symbol("s_c", nonnegative=True)  # 1 − s
    m = sp.Symbol("m", nonnegative=True)
    relu = lambda x: sp.Max(x, 0)  # noqa: E731

    # open gate: relu(z) − relu(−z) = z, split on the sign of z
    z_pos, z_neg = sp.Symbol("p", nonnegative=True), sp.Symbol("q", nonnegative=True)
    open_ok = sp.simplify(relu(z_pos) - relu(-z_pos) - z_pos) == 0
    open_ok &= sp.simplify(relu(-z_neg) - relu(z_neg) - (-z_neg)) == 0

    # closed gate: both pre-activations are <= 0. With z = λ(2s − 1), s + s_c = 1:
    # z + λG = λ(2s − 1) − λ(1 + m) = −λ(2·s_c + m);  −z + λG = −λ(2·s + m)
    z_in_box = lam * (2 * s_lo - 1)
    plus = sp.expand(z_in_box - lam * (1 + m)).subs(s_lo, 1 - s_hi)
    minus = sp.expand(-z_in_box - lam * (1 + m))
    closed_ok = bool(sp.expand(plus + lam * (2 * s_hi + m)) == 0)
    closed_ok &= bool(sp.expand(minus + lam * (2 * s_lo + m)) == 0)
    closed_ok &= bool((-lam * (2 * s_hi + m)).is_nonpositive)
    closed_ok &= bool((-lam * (2 * s_lo + m)).is_nonpositive)
    return bool(open_ok) and closed_ok


def check_gate_needs_the_bound(gate_scale_factor: sp.Rational = ONE) -> bool:
    """With λ = factor·|z| the closed gate outputs 0 only if factor >= 1 (the bound is needed)."""
    z = sp.Integer(3)
    lam = gate_scale_factor * z
    closed = sp.Max(z - lam, 0) - sp.Max(-z - lam, 0)
    return bool(closed == 0)


# ---------------------------------------------------------------------------- block_recall.md


def check_copy_attention() -> bool:
    """Zero scores over two causal positions give the pattern (1/2, 1/2) exactly, and the
    library's ``W_V``, ``W_O`` (the factor 2) then leave ``x = W_E[s] + W_E[N + r]`` at the last
    position: checked in exact rational arithmetic on built constructions, every prompt."""
    from geoconstruct import construct_single_hop, required_dimension

    score = sp.Integer(0)  # W_Q = W_K = 0
    pattern = sp.exp(score) / (sp.exp(score) + sp.exp(score))
    ok = pattern == HALF
    for layout in ("block", "block_separate"):
        n, relations = 6, 2
        d = required_dimension(n, relations, layout=layout, codebook="grid")
        built = construct_single_hop(n, relations, d, layout=layout, codebook="grid", seed=3)
        W = {
            name: sp.Matrix(_rational(built.weights[name]))
            for name in ("embed.W_E", "pos_embed.W_pos")
        }
        ok &= all(not _rational(built.weights[f"blocks.0.attn.{m}"]).any() for m in ("W_Q", "W_K"))
        W_V = sp.Matrix(_rational(built.weights["blocks.0.attn.W_V"][0]))
        W_O = sp.Matrix(_rational(built.weights["blocks.0.attn.W_O"][0]))
        b_V = sp.Matrix(_rational(built.weights["blocks.0.attn.b_V"][0])).T
        b_O = sp.Matrix(_rational(built.weights["blocks.0.attn.b_O"])).T
        W_E, W_pos = W["embed.W_E"], W["pos_embed.W_pos"]
        for subject in range(n):
            for relation in range(relations):
                r0 = W_E.row(subject) + W_pos.row(0)
                r1 = W_E.row(n + relation) + W_pos.row(1)
                z = pattern * (r0 * W_V + b_V) + pattern * (r1 * W_V + b_V)
                x = r1 + z * W_O + b_O
                ok &= x == W_E.row(subject) + W_E.row(n + relation)
    return bool(ok)


def _rational(array: object) -> object:
    """An array of exact rationals from float64 (every float is a dyadic rational)."""
    import numpy as np

    values = np.asarray(array, dtype=np.float64)
    return np.vectorize(lambda value: sp.Rational(float(value)), otypes=[object])(values)


def check_nearest_neighbour_identity(k: int = 3) -> bool:
    """⟨u, y⟩ − ‖u‖²/2 = (‖y‖² − ‖y − u‖²)/2, so the biased argmax is the nearest code."""
    u = sp.symbols(f"u0:{k}", real=True)
    y = sp.symbols(f"y0:{k}", real=True)
    dot = sum(ui * yi for ui, yi in zip(u, y, strict=True))
    lhs = dot - sum(ui**2 for ui in u) / 2
    rhs = (sum(yi**2 for yi in y) - sum((yi - ui) ** 2 for ui, yi in zip(u, y, strict=True))) / 2
    return bool(sp.expand(lhs - rhs) == 0)


def check_grid_margin(claimed_margin: sp.Rational = HALF, k: int = 3) -> bool:
    """At y = u_t: logit_t − logit_a = ‖u_t − u_a‖²/2 >= 1/2 for distinct integer codes.

    The identity is checked symbolically; ``‖w‖² >= 1`` for a non-zero integer vector ``w``
    holds because some coordinate is a non-zero integer. The smallest value, 1/2, is attained by
    codes that differ by 1 in one coordinate, so a larger claimed margin fails.
    """
    t = sp.symbols(f"t0:{k}", integer=True)
    a = sp.symbols(f"a0:{k}", integer=True)

    def logit(code: tuple[sp.Symbol, ...]) -> sp.Expr:
        return sum(ci * ti for ci, ti in zip(code, t, strict=True)) - sum(c**2 for c in code) / 2

    difference = logit(t) - logit(a)
    gap = sum((ti - ai) ** 2 for ti, ai in zip(t, a, strict=True)) / 2
    identity = sp.expand(difference - gap) == 0
    nearest_pair = {t[0]: 1, a[0]: 0, **{t[j]: 0 for j in range(1, k)}, **dict.fromkeys(a[1:], 0)}
    attained = gap.subs(nearest_pair)
    # ‖w‖² >= 1 for every non-zero integer vector w: checked on every w in {−2, …, 2}^k
    nonzero = [w for w in itertools.product(range(-2, 3), repeat=k) if any(w)]
    squared_norms_at_least_one = all(sum(sp.Integer(c) ** 2 for c in w) >= 1 for w in nonzero)
    return bool(identity) and squared_norms_at_least_one and bool(attained >= claimed_margin)


def check_unit_code_margin() -> bool:
    """Inner-product decoding of a clean unit code: ``⟨u_t, u_t⟩ − ⟨u_a, u_t⟩ >= 1 − μ``. For
    c = μ − s (0 <= s <= 2μ) the margin minus 1 − μ is s; and the library's block constructions
    with unit codes meet it: their forward-pass margin is at least ``1 − coherence`` of the drawn
    codes, and that coherence is at most the family's μ < 1."""
    from geoconstruct import construct_single_hop, proven_dimension
    from geoconstruct.codes.registry import resolve_codebook

    s_, mu = sp.Symbol("s", nonnegative=True), sp.Symbol("mu", positive=True)
    ok = sp.expand((1 - (mu - s_)) - (1 - mu)) == s_
    for codebook in ("gaussian", "rademacher"):
        d = proven_dimension(60, 2, layout="block", codebook=codebook)
        built = construct_single_hop(60, 2, d, layout="block", codebook=codebook, seed=5)
        coherence = sp.Float(built.codebook.coherence(), 30)
        margin = sp.Float(built.recall().min_margin, 30)
        bound = resolve_codebook(codebook).coherence_bound
        ok &= bound is not None and coherence <= sp.Float(bound, 30) < 1
        ok &= margin >= 1 - coherence - sp.Float("1e-12")
    return bool(ok)


def check_layout_dimensions_in_library() -> bool:
    """Each layout's d from R and k (block ``(R+1)k + R``, block in place ``R(k+1)``, superposed
    ``2k + R``, in place ``k + R``; in_place_readout.md) and its inverse ``code_length_at``: the
    largest k whose d fits, for every d from the smallest up."""
    from geoconstruct.constructions.layouts import LAYOUTS

    R, k = sp.symbols("R k", positive=True, integer=True)
    formulas = {
        "block_separate": (R + 1) * k + R,
        "block": R * (k + 1),
        "superposed_separate": 2 * k + R,
        "superposed": k + R,
    }
    ok = set(formulas) == set(LAYOUTS)
    for name, formula in formulas.items():
        layout = LAYOUTS[name]
        for relations in range(1, 7):
            for length in range(1, 12):
                ok &= layout.dimension(relations, length) == formula.subs({R: relations, k: length})
            for d in range(int(formula.subs({R: relations, k: 1})), 80):
                fitted = layout.code_length_at(relations, d)
                ok &= bool(formula.subs({R: relations, k: fitted}) <= d)
                ok &= bool(formula.subs({R: relations, k: fitted + 1}) > d)
    return bool(ok)


# ---------------------------------------------------------------------------- unit_codes.md


def check_unit_code_length(tail_constant: sp.Rational = HALF) -> bool:
    """N(N−1)·exp(−k μ²/2) <= 1/2  ⟺  k >= 2·ln(2N(N−1))/μ².

    ``tail_constant`` is the 1/2 in the cap bound exp(−k μ²/2); solving with another constant
    gives another threshold, and the check compares against the library's formula.
    """
    k, mu, n = sp.symbols("k mu N", positive=True)
    pairs = n * (n - 1)
    threshold = sp.solve(sp.Eq(pairs * sp.exp(-tail_constant * k * mu**2), sp.Rational(1, 2)), k)
    library = 2 * sp.log(2 * pairs) / mu**2
    return len(threshold) == 1 and bool(sp.simplify(threshold[0] - library) == 0)


def check_sphere_moments(max_order: int = 5) -> bool:
    """For x uniform on S^{k−1}: E[x_1^{2m}] = ∏_{i<m} (2i+1)/(k+2i) <= (2m−1)!!/k^m = E[g^{2m}].

    ``x_1²`` is Beta(1/2, (k−1)/2), so E[x_1^{2m}] = B(1/2 + m, (k−1)/2) / B(1/2, (k−1)/2); the
    ratio of Gamma functions is checked against the product for symbolic k.
    """
    k = sp.Symbol("k", positive=True)
    ok = True
    for m in range(1, max_order + 1):
        beta_ratio = (
            sp.gamma(sp.Rational(1, 2) + m)
            * sp.gamma(k / 2)
            / (sp.gamma(sp.Rational(1, 2)) * sp.gamma(k / 2 + m))
        )
        product = sp.prod([sp.Integer(2 * i + 1) / (k + 2 * i) for i in range(m)])
        ok &= sp.simplify(sp.gammasimp(beta_ratio) - product) == 0
        gaussian = sp.factorial2(2 * m - 1) / k**m
        # each factor (2i+1)/(k+2i) <= (2i+1)/k: the difference is (2i+1)·2i/(k(k+2i)) >= 0
        for i in range(m):
            gap = sp.simplify(sp.Integer(2 * i + 1) / k - sp.Integer(2 * i + 1) / (k + 2 * i))
            ok &= sp.simplify(gap - sp.Integer((2 * i + 1) * 2 * i) / (k * (k + 2 * i))) == 0
            ok &= bool(gap.is_nonnegative)
        # so the product is at most the Gaussian moment
        ok &= sp.simplify(sp.prod([sp.Integer(2 * i + 1) / k for i in range(m)]) - gaussian) == 0
    return bool(ok)


def check_subgaussian_series(terms: int = 12) -> bool:
    """Σ_m λ^{2m} (2m−1)!!/(k^m (2m)!) = Σ_m (λ²/2k)^m / m! = exp(λ²/(2k)), term by term."""
    lam, k = sp.symbols("lambda k", positive=True)
    ok = True
    for m in range(terms):
        moment_term = lam ** (2 * m) * sp.factorial2(2 * m - 1) / (k**m * sp.factorial(2 * m))
        exp_term = (lam**2 / (2 * k)) ** m / sp.factorial(m)
        ok &= sp.simplify(moment_term - exp_term) == 0
    return bool(ok)


# ---------------------------------------------------------------------------- superposed_recall.md


def check_chernoff_optimum() -> bool:
    """min_θ exp(−θ t + θ² σ²/2) = exp(−t²/(2σ²)), attained at θ = t/σ²."""
    theta, t, sigma2 = sp.symbols("theta t sigma2", positive=True)
    exponent = -theta * t + theta**2 * sigma2 / 2
    (critical,) = sp.solve(sp.diff(exponent, theta), theta)
    return bool(sp.simplify(critical - t / sigma2) == 0) and bool(
        sp.simplify(exponent.subs(theta, critical) + t**2 / (2 * sigma2)) == 0
    )


def check_superposed_exponent(theta_scale: sp.Expr = TWO) -> bool:
    """Chernoff at θ = k/(2(R−1)) (``theta_scale`` is the 2) for X >= ‖z‖²/2 − γ with
    σ² = (R−1)‖z‖²/k: the exponent is −k‖z‖²/(8(R−1)) + kγ/(2(R−1)), and with ‖z‖² = 2(1 − c)
    it is −k/(4(R−1)) + kγ/(2(R−1)) + λc, λ = k/(4(R−1)) (superposed_recall.md, Step 1)."""
    k, R1, z2, gamma, c = sp.symbols("k R1 z2 gamma c", positive=True)  # R1 = R − 1
    sigma2 = R1 * z2 / k
    theta = k / (theta_scale * R1)
    exponent = -theta * (z2 / 2 - gamma) + theta**2 * sigma2 / 2
    in_z = sp.simplify(exponent - (-k * z2 / (8 * R1) + k * gamma / (2 * R1))) == 0
    in_c = exponent.subs(z2, 2 * (1 - c))
    lam = k / (4 * R1)
    in_coherence = sp.simplify(in_c - (-k / (4 * R1) + k * gamma / (2 * R1) + lam * c)) == 0
    optimum = sp.simplify(theta - (z2 / 2) / sigma2) == 0  # the optimum for γ = 0
    return bool(in_z) and bool(in_coherence) and bool(optimum)


def check_superposed_average(mgf_constant: sp.Expr = TWO) -> bool:
    """E e^{λc} <= e^{λ²/(2k)} at λ = k/(4(R−1)) turns Step 1's exponent into
    −k(8R − 9 − 16γ(R−1))/(32(R−1)²) (superposed_recall.md, Step 2); ``mgf_constant`` is the 2 of
    the sphere's sub-Gaussian bound."""
    k, R1, gamma = sp.symbols("k R1 gamma", positive=True)
    lam = k / (4 * R1)
    averaged = -k / (4 * R1) + k * gamma / (2 * R1) + lam**2 / (mgf_constant * k)
    R = R1 + 1
    stated = -k * (8 * R - 9 - 16 * gamma * R1) / (32 * R1**2)
    return bool(sp.simplify(averaged - stated) == 0)


def check_superposed_length(constant: sp.Expr = THIRTY_TWO) -> bool:
    """N(N−1)R·exp(−k(8R−9−16γ(R−1))/(32(R−1)²)) <= δ  ⟺
    k >= 32(R−1)²/(8R−9−16γ(R−1))·ln(N(N−1)R/δ)."""
    k, n, R1, delta, gamma = sp.symbols("k N R1 delta gamma", positive=True)
    R = R1 + 1
    rate = (8 * R - 9 - 16 * gamma * R1) / (32 * R1**2)
    union = n * (n - 1) * R * sp.exp(-k * rate)
    (threshold,) = sp.solve(sp.Eq(union, delta), k)
    library = constant * R1**2 / (8 * R - 9 - 16 * gamma * R1) * sp.log(n * (n - 1) * R / delta)
    return bool(sp.simplify(sp.expand_log(threshold - library, force=True)) == 0)


# ---------------------------------------------------------------------------- lower_bounds.md


def check_global_bound() -> bool:
    """2^{pP} >= (N!)^R  ⟺  P >= R·log2(N!)/p, and log2 N! = lgamma(N+1)/ln 2."""
    P, p, R, n = sp.symbols("P p R N", positive=True)
    settings = sp.log(2 ** (p * P), 2)
    facts = sp.log(sp.factorial(n) ** R, 2)
    (threshold,) = sp.solve(
        sp.Eq(sp.expand_log(settings, force=True), sp.expand_log(facts, force=True)), P
    )
    closed_form = R * sp.log(sp.factorial(n)) / (p * sp.log(2))
    ok = sp.simplify(threshold - closed_form) == 0
    ok &= sp.simplify(sp.loggamma(n + 1) - sp.log(sp.factorial(n))).subs(n, 10) == 0
    return bool(ok)


def check_per_subject_bound() -> bool:
    """2^{p·d_s} >= N^R  ⟺  d_s >= R·log2 N / p."""
    d, p, R, n = sp.symbols("d_s p R N", positive=True)
    (threshold,) = sp.solve(
        sp.Eq(
            sp.expand_log(sp.log(2 ** (p * d), 2), force=True),
            sp.expand_log(sp.log(n**R, 2), force=True),
        ),
        d,
    )
    return bool(sp.simplify(threshold - R * sp.log(n, 2) / p) == 0)


def check_grid_meets_per_subject_bound(bits: int = 8) -> bool:
    """At N = 2^{p·m}: R·⌈log2 N / p⌉ = R·log2 N / p exactly (block grid codes are optimal)."""
    ok = True
    for m in range(1, 4):
        n = sp.Integer(2) ** (bits * m)
        for relations in (1, 4, 16):
            grid = relations * sp.ceiling(sp.log(n, 2) / bits)
            bound = relations * sp.log(n, 2) / bits
            ok &= sp.simplify(grid - bound) == 0
    return bool(ok)


# ---------------------------------------------------------------------------- certified_recall.md


def _pair(z: sp.Expr, gate: sp.Expr) -> sp.Expr:
    """One selector pair: relu(z + G) − relu(−z + G)."""
    return sp.Max(z + gate, 0) - sp.Max(-z + gate, 0)


def check_pair_error_bounds() -> bool:
    """|f(z, G) − z| <= |G| and |f(z, G)| <= relu(|z| + G), for every z and G.

    f is odd in z, so take z >= 0; the three cases of G are G = z + t, G = z − t (0 <= t <= 2z,
    written z = (t + w)/2 with w >= 0) and G = −z − t, with t, w >= 0.
    """
    t, w, z = (sp.Symbol(name, nonnegative=True) for name in ("t", "w", "z"))
    cases = [
        (z, z + t),  # both units active: f = 2z
        ((t + w) / 2, (t + w) / 2 - t),  # only the + unit active: f = z + G
        (z, -z - t),  # neither active: f = 0
    ]
    holds = True
    for value, gate in cases:
        f = sp.simplify(_pair(value, gate))
        error = sp.simplify(abs(gate) - abs(f - value))
        leak = sp.simplify(sp.Max(value + gate, 0) - abs(f))
        holds &= bool(error.is_nonnegative) and bool(leak.is_nonnegative)
    odd = sp.simplify(_pair(-z, t - w) + _pair(z, t - w)) == 0
    return holds and bool(odd)


def check_pair_error_needs_the_gate(slack: sp.Rational = ONE) -> bool:
    """The open-pair bound |f − z| <= slack·|G| fails for slack < 1 (at z = 2, G = 1)."""
    z, gate = sp.Integer(2), sp.Integer(1)
    return bool(abs(_pair(z, gate) - z) <= slack * abs(gate))


def check_certified_grid_margin(claimed: sp.Expr | None = None) -> bool:
    """‖y − u_a‖ <= δ <= 1 and ‖u_a − u_b‖ >= 1 give L_a − L_b >= ((1−δ)² − δ²)/2 = 1/2 − δ."""
    delta = sp.Symbol("delta", nonnegative=True)
    claimed = HALF - delta if claimed is None else claimed
    return bool(sp.expand(((1 - delta) ** 2 - delta**2) / 2 - claimed) == 0)


def check_certified_unit_margin(k: int = 3) -> bool:
    """With y = u_a + e: L_a − L_b = ‖u_a‖² − ⟨u_a, u_b⟩ + ⟨e, u_a − u_b⟩ (+ bias errors), and
    ‖u_a − u_b‖² = ‖u_a‖² + ‖u_b‖² − 2⟨u_a, u_b⟩ <= (1+ν)²(2 + 2μ) when the norms are at most
    1 + ν and |⟨u_a, u_b⟩| <= μ(1+ν)²."""
    u_a = sp.Matrix(sp.symbols(f"a0:{k}", real=True))
    u_b = sp.Matrix(sp.symbols(f"b0:{k}", real=True))
    e = sp.Matrix(sp.symbols(f"e0:{k}", real=True))
    y = u_a + e
    gap = y.dot(u_a) - y.dot(u_b)
    identity = sp.expand(gap - (u_a.dot(u_a) - u_a.dot(u_b) + e.dot(u_a - u_b))) == 0
    distance = sp.expand(
        (u_a - u_b).dot(u_a - u_b) - (u_a.dot(u_a) + u_b.dot(u_b) - 2 * u_a.dot(u_b))
    )
    # ‖u_a‖² = (1+ν)² − s_a, ‖u_b‖² = (1+ν)² − s_b, ⟨u_a, u_b⟩ = −μ(1+ν)² + t with s_a, s_b,
    # t >= 0 (norms at most 1 + ν, inner product at least −μ(1+ν)²): the bound minus the
    # squared distance is s_a + s_b + 2t >= 0.
    nu, mu = sp.Symbol("nu", nonnegative=True), sp.Symbol("mu", nonnegative=True)
    s_a, s_b, t = (sp.Symbol(name, nonnegative=True) for name in ("s_a", "s_b", "t"))
    squared = ((1 + nu) ** 2 - s_a) + ((1 + nu) ** 2 - s_b) - 2 * (-mu * (1 + nu) ** 2 + t)
    slack = sp.expand((1 + nu) ** 2 * (2 + 2 * mu) - squared)
    bound = slack == sp.expand(s_a + s_b + 2 * t) and bool(slack.is_nonnegative)
    return bool(identity) and distance == 0 and bool(bound)


def check_affine_last_position() -> bool:
    """With pattern (1/2, 1/2): x = r1 + ½(r0 + r1)·W_V·W_O + b_V·W_O + b_O equals
    W_E[s]·A + c_r with A = ½·W_V·W_O and c_r = r1 + r1·A + W_pos[0]·A + b_V·W_O + b_O
    (non-commuting symbols stand for the row vectors and matrices)."""
    E, P0, P1, rel, W_V, W_O, b_V, b_O = sp.symbols(
        "E P0 P1 rel W_V W_O b_V b_O", commutative=False
    )
    r0, r1 = E + P0, rel + P1
    x = r1 + HALF * ((r0 * W_V + b_V) * W_O + (r1 * W_V + b_V) * W_O) + b_O
    A = HALF * W_V * W_O
    c = r1 + r1 * A + P0 * A + b_V * W_O + b_O
    return bool(sp.expand(x - (E * A + c)) == 0)


# ---------------------------------------------------------------------------- bch_codes.md


def check_sign_inner_product() -> bool:
    """±1/√n vectors that disagree in D of n coordinates: ⟨u, u'⟩ = (n − 2D)/n."""
    n, disagreements = sp.symbols("n D", positive=True)
    agreements = n - disagreements
    inner = (agreements * 1 + disagreements * (-1)) / n
    return bool(sp.simplify(inner - (n - 2 * disagreements) / n) == 0)


def check_trace_sum_weight() -> bool:
    """Σ_{x∈F} (−1)^{Tr h(x)} = 1 + (n − 2w) when h(0) = 0: n − w ones, w minus ones, and x = 0."""
    n, w = sp.symbols("n w", positive=True)
    total = 1 + (n - w) * 1 + w * (-1)
    return bool(sp.expand(total - (1 + n - 2 * w)) == 0)


def check_weil_to_coherence(degree_offset: int = 1) -> bool:
    """|S| <= (d − 1)√q and S = 1 + (n − 2w) give |n − 2w| <= (d − 1)√q + 1.

    Checked at the extremes S = ±(d − 1)√q, where |S − 1| is largest; ``degree_offset`` is the
    "− 1" of Weil's bound (a wrong one fails).
    """
    ok = True
    for m in range(2, 21):
        q = sp.Integer(2) ** m
        for d in range(1, 16, 2):
            weil = (d - degree_offset) * sp.sqrt(q)
            claimed = (d - 1) * sp.sqrt(q) + 1
            worst = sp.Max(abs(weil - 1), abs(-weil - 1))  # |S − 1| at S = ±weil
            ok &= bool(sp.simplify(claimed - worst) >= 0)
    return bool(ok)


def check_superposed_sign_margin(n_relations: int = 3) -> bool:
    """⟨y, u_a − u_b⟩ − (1 − μ − 2(R−1)μ_×) is a sum of non-negative slacks.

    With ⟨u_a, u_a⟩ = 1, p = ⟨u_a, u_b⟩ (|p| <= μ) and crosstalk terms x_i = ⟨·, u_a⟩,
    z_i = ⟨·, u_b⟩ (|x_i|, |z_i| <= μ_×) for the R − 1 other relations.
    """
    mu, mu_x, p = sp.symbols("mu mu_x p", real=True)
    xs = sp.symbols(f"x0:{n_relations - 1}", real=True)
    zs = sp.symbols(f"z0:{n_relations - 1}", real=True)
    gap = 1 - p + sum(x - z for x, z in zip(xs, zs, strict=True))
    bound = 1 - mu - 2 * (n_relations - 1) * mu_x
    slacks = (mu - p) + sum((x + mu_x) + (mu_x - z) for x, z in zip(xs, zs, strict=True))
    return bool(sp.expand(gap - bound - slacks) == 0)


def check_cap_fraction_sphere(exponent: sp.Rational = HALF) -> bool:
    """½·I_{sin²φ}(1, ½) = (1 − cos φ)/2 for φ ∈ [0, π/2], using I_x(1, b) = 1 − (1 − x)^b.

    With c = cos φ ∈ [0, 1]: sin²φ = 1 − c², so 1 − (1 − sin²φ)^(1/2) = 1 − c.
    """
    c = sp.Symbol("c", nonnegative=True)
    sin_squared = 1 - c**2
    incomplete = 1 - (1 - sin_squared) ** exponent  # I_x(1, b) at x = sin²φ
    ok = sp.simplify(HALF * incomplete - (1 - c) / 2) == 0
    # every dimension k: the cap of radius φ is ∫_0^φ sin^{k−2} / ∫_0^π sin^{k−2}, against the
    # library's closed form (incomplete beta) at angles up to π/2
    from geoconstruct.analysis.theory.bounds import cap_fraction

    theta = sp.Symbol("theta")
    for k in range(2, 9):
        density = sp.sin(theta) ** (k - 2)
        total = sp.integrate(density, (theta, 0, sp.pi))
        for phi in (sp.pi / 8, sp.pi / 5, sp.pi / 3, sp.pi / 2):
            exact = sp.integrate(density, (theta, 0, phi)) / total
            ok &= abs(sp.N(exact, 30) - sp.Float(cap_fraction(k, float(phi)), 30)) < 1e-12
    return bool(ok)


# ---------------------------------------------------------------------------- multi_hop.md


def check_hard_attention_leakage(off_positions: sp.Expr | None = None) -> bool:
    """Scores (s, 0, …, 0) over g + 1 positions: the weight off the bound one is g/(e^s + g).

    ``off_positions`` is the number of other positions the proof counts (g); the last position of
    a ``g + 1``-token prompt sees all of them, so another count gives another (wrong) leakage.
    """
    s, g = sp.symbols("s g", positive=True)
    others = g if off_positions is None else off_positions
    weight_off = g * sp.exp(0) / (sp.exp(s) + g * sp.exp(0))  # g positions at score 0
    formula = others / (sp.exp(s) + others)
    ok = sp.simplify(weight_off - formula) == 0
    # and ε <= g·e^-s, the form the score gap is solved from
    ok &= sp.simplify(g * sp.exp(-s) - formula - g * g * sp.exp(-s) / (sp.exp(s) + g)) == 0
    return bool(ok)


def check_leaky_gate(gate_scale_factor: sp.Expr = TWO) -> bool:
    """Gates under leakage ε <= 1/2 with λ = factor·Z and every |z| <= Z.

    Closed keys (G <= −(1 − ε)) output exactly 0 when factor >= 2: the worst pre-activation
    ``Z − λ(1 − ε)`` at ε = 1/2 is ``Z(1 − factor/2)``. Open keys (G = −δ, 0 <= δ <= gε) output
    z moved by at most λδ: ``relu(z − λδ) − relu(−z − λδ)`` is ``z − λδ`` for z >= λδ and 0 below.
    """
    Z, t, delta, lam = sp.symbols("Z t delta lambda", positive=True)
    worst_closed = Z - gate_scale_factor * Z * (1 - HALF)
    ok = bool(worst_closed <= 0)
    # open, z = λδ + t (above the shift): output z − λδ, error λδ
    z_above = lam * delta + t
    ok &= sp.simplify(_pair(z_above, -lam * delta) - (z_above - lam * delta)) == 0
    # open, z = λδ/(1 + v) with v >= 0 (inside the shift): output 0, error z <= λδ
    v = sp.Symbol("v", nonnegative=True)
    ok &= sp.simplify(_pair(lam * delta / (1 + v), -lam * delta)) == 0
    return bool(ok)


def check_score_gap(constant: sp.Expr = FOUR) -> bool:
    """With s = ln(c·√k·g²·Z/τ) the error 2√k·g·(g e^-s)·Z equals τ·2/c: τ/2 for c = 4."""
    k, g, Z, tau = sp.symbols("k g Z tau", positive=True)
    s = sp.log(constant * sp.sqrt(k) * g**2 * Z / tau)
    error = 2 * sp.sqrt(k) * g * (g * sp.exp(-s)) * Z
    return bool(sp.simplify(error - tau / 2) == 0)


def check_decoding_under_error(k: int = 3) -> bool:
    """y = u_a + e. Nearest neighbour: gap = (‖u_a − u_b‖² + 2⟨u_a − u_b, e⟩)/2; inner product:
    ⟨u_a − u_b, y⟩ = ‖u_a‖² − ⟨u_a, u_b⟩ + ⟨u_a − u_b, e⟩. Both stay positive for ‖e‖ below half
    the distance (Cauchy–Schwarz), which is what ``decoding_tolerance`` records.
    """
    a = sp.symbols(f"a0:{k}", real=True)
    b = sp.symbols(f"b0:{k}", real=True)
    e = sp.symbols(f"e0:{k}", real=True)

    def dot(x: tuple[sp.Expr, ...], y: tuple[sp.Expr, ...]) -> sp.Expr:
        return sum(xi * yi for xi, yi in zip(x, y, strict=True))

    y = tuple(ai + ei for ai, ei in zip(a, e, strict=True))
    diff = tuple(ai - bi for ai, bi in zip(a, b, strict=True))
    nearest = (dot(diff, diff) + 2 * dot(diff, e)) / 2
    nn_gap = (dot(y, y) - 2 * dot(b, y) + dot(b, b)) / 2 - dot(e, e) / 2  # (‖y−b‖² − ‖y−a‖²)/2
    ok = sp.expand(nn_gap - nearest) == 0
    ok &= sp.expand(dot(diff, y) - (dot(a, a) - dot(a, b) + dot(diff, e))) == 0
    # at distance δ and ‖e‖ = δ/2 − t the nearest-neighbour gap is at least δ·t > 0
    delta, t = sp.symbols("delta t", positive=True)
    ok &= sp.simplify((delta**2 - 2 * delta * (delta / 2 - t)) / 2 - delta * t) == 0
    return bool(ok)


def check_multi_hop_dimension() -> bool:
    """D_g = Σ_{h<=g} R^h = R(R^g − 1)/(R − 1) = R·m with m = Σ_{h<g} R^h, and the residual
    layout D_g·k + (R+1) + g(R+1) + (g+1) + k = (D_g + 1)k + (R+2)(g+1)."""
    R, k, g = sp.symbols("R k g", positive=True, integer=True)
    h = sp.Symbol("h", integer=True)
    ok = True
    for r_value in (2, 3, 4):
        for g_value in (1, 2, 3, 4):
            chains = sp.summation(sp.Integer(r_value) ** h, (h, 1, g_value))
            inner = sp.summation(sp.Integer(r_value) ** h, (h, 0, g_value - 1))
            ok &= chains == sp.Integer(r_value) * (r_value**g_value - 1) / (r_value - 1)
            ok &= chains == r_value * inner
    D = sp.Symbol("D", positive=True)
    layout = D * k + (R + 1) + g * (R + 1) + (g + 1) + k
    ok &= sp.expand(layout - ((D + 1) * k + (R + 2) * (g + 1))) == 0
    return bool(ok)


def check_per_pass_counting() -> bool:
    """(N−1)!/(N−1−D)! = Π_{i<D}(N−1−i); a distinct tuple has probability ((N−m)!/N!)^R; the
    collision union bound Σ_{j=1..D} j/(N−m+1) = D(D+1)/(2(N−m+1)); and the random-facts bound
    log2((1−δ−C)/P(t)) = R·log2(N!/(N−m)!) + log2(1−δ−C)."""
    n, D, m, R, j = sp.symbols("N D m R j", positive=True, integer=True)
    ok = True
    for n_value, d_value in ((10, 3), (64, 6), (200, 20)):
        product = sp.prod([n_value - 1 - k for k in range(d_value)])
        ok &= sp.factorial(n_value - 1) / sp.factorial(n_value - 1 - d_value) == product
    union = sp.summation(j / (n - m + 1), (j, 1, D))
    ok &= sp.simplify(union - D * (D + 1) / (2 * (n - m + 1))) == 0
    for n_value, m_value in ((10, 3), (30, 5)):
        per_relation = sp.prod([sp.Rational(1, n_value - k) for k in range(m_value)])
        ok &= per_relation == sp.factorial(n_value - m_value) / sp.factorial(n_value)
    C, delta = sp.symbols("C delta", positive=True)
    probability = (sp.factorial(n - m) / sp.factorial(n)) ** R
    bound = sp.log((1 - delta - C) / probability, 2)
    closed = R * sp.log(sp.factorial(n) / sp.factorial(n - m), 2) + sp.log(1 - delta - C, 2)
    ok &= sp.simplify(sp.expand_log(bound - closed, force=True)) == 0
    return bool(ok)


# ---------------------------------------------------------------------------- baselines.md


def check_key_value_units(threshold_offset: sp.Expr = ZERO) -> bool:
    """Unit (t, q) reads ⟨κ_t, x⟩ + x_rel[q] − (b + offset): 1 on its fact, 0 on every other.

    ``⟨κ_s, κ_s⟩ = b`` and ``⟨κ_s, κ_t⟩ <= b − 2``; the threshold b (offset 0) gives relu values
    1, 0, 0 for (own fact, own subject with another relation, another subject).
    """
    b = sp.Symbol("b", positive=True)
    threshold = b + threshold_offset
    relu = lambda x: sp.Max(x, 0)  # noqa: E731
    own = relu(b + 1 - threshold)
    other_relation = relu(b + 0 - threshold)
    other_subject_worst = relu((b - 2) + 1 - threshold)
    return bool(own == 1) and bool(other_relation == 0) and bool(other_subject_worst == 0)


def check_outer_product_units(bias: sp.Expr = ONE) -> bool:
    """Unit (q, j) reads x_subject[j] + x_rel[q] − bias on one-hot keys: 1 only at (r, s)."""
    relu = lambda x: sp.Max(x, 0)  # noqa: E731
    own = relu(1 + 1 - bias)
    other_key = relu(0 + 1 - bias)
    other_relation = relu(1 + 0 - bias)
    return bool(own == 1) and bool(other_key == 0) and bool(other_relation == 0)


def check_linear_memory_transfer(n_subjects: int = 6, n_relations: int = 2, k: int = 2) -> bool:
    """Φ_{·,r}ᵀ Φ (ΦᵀΦ)^{−1} = [0 … I_k … 0]: a linear memory over one-hot keys composed with the
    least-squares embedding returns the new code exactly (for a full-rank design Φ)."""
    width = n_relations * k
    design = sp.Matrix(n_subjects, width, lambda i, j: (3 * i * i + 5 * j + i * j + 1) % 7 - 3)
    if design.rank() < width:
        return False
    pseudo_inverse = (design.T * design).inv() * design.T  # B̂ᵀ for one-hot embeddings E = I
    ok = True
    for relation in range(n_relations):
        block = design[:, relation * k : (relation + 1) * k]
        selector = sp.zeros(k, width)
        selector[:, relation * k : (relation + 1) * k] = sp.eye(k)
        ok &= sp.simplify(block.T * pseudo_inverse.T - selector) == sp.zeros(k, width)
    return bool(ok)


# ------------------------------------------------------------- the library against the proofs
#
# Each check below computes a threshold from a proof, exactly or to 50 digits with sympy, and
# compares it with the value the library's own function or constant gives at sampled sizes. A
# changed constant in the library, not only in the check, makes one of them fail
# (``test_sympy_checks.py`` monkeypatches the library to show it).

DOCUMENTED_DELTA = sp.Rational(1, 100)
"""δ of the superposed guarantee as the docs state it: every fact with probability >= 0.99."""

SAMPLED_SIZES = (1, 2, 3, 255, 256, 257, 1000, 4096, 65_535, 65_536, 65_537, 10**6, 2**20)


def _at_least(value: float, threshold: sp.Expr) -> bool:
    return bool(sp.Float(value, 50) >= sp.N(threshold, 50))


# ---------------------------------------------------------------------- disjoint_attributes.md


def check_disjoint_relation_bonus(bonus_offset: sp.Expr = ONE) -> bool:
    """With ``C = B + offset`` and ``0 <= V_r, V_{r'} <= B/2``: ``V_r + C − V_{r'} >= 1``.

    Write ``V_r = x``, ``V_{r'} = B/2 − y`` with x, y >= 0: the gap minus 1 is
    ``x + y + B/2 + offset − 1``, non-negative for every B >= 0 exactly when offset >= 1.
    """
    x, y, big = sp.symbols("x y B", nonnegative=True)
    gap_minus_one = sp.expand(x + (big + bonus_offset) - (big / 2 - y) - 1)
    worst = gap_minus_one.subs({x: 0, y: 0, big: 0})  # the expression grows in x, y and B
    grows = all(sp.diff(gap_minus_one, v).is_nonnegative for v in (x, y, big))
    return bool(grows) and bool(worst >= 0)


def check_disjoint_dimension() -> bool:
    """R slots of k and R relation coordinates: ``R·k + R = R·(k + 1)``, the in-place block d,
    and the library's ``disjoint_dimension`` is that at the codebook's shortest k."""
    from geoconstruct import disjoint_dimension
    from geoconstruct.codes.registry import resolve_codebook

    n_relations, k = sp.symbols("R k", positive=True, integer=True)
    ok = sp.expand(n_relations * k + n_relations - n_relations * (k + 1)) == 0
    for codebook in ("grid", "gaussian"):
        for n, relations in ((50, 2), (300, 3), (4096, 4)):
            length = resolve_codebook(codebook).min_code_length(n)
            ok &= disjoint_dimension(n, relations, codebook=codebook) == relations * (length + 1)
    return bool(ok)


def check_disjoint_bonus_in_library() -> bool:
    """The library's bonus is ``⌈B⌉ + 1`` with ``B = norm_bound² >= max‖u‖²`` (to rounding)."""
    from geoconstruct import construct_disjoint, disjoint_dimension

    for codebook in ("grid", "gaussian", "bch"):
        for n_subjects, n_relations in [(50, 2), (300, 3)]:
            d = disjoint_dimension(n_subjects, n_relations, codebook=codebook)
            built = construct_disjoint(n_subjects, n_relations, d, codebook=codebook)
            bound = built.codebook.norm_bound**2
            largest = float((built.codebook.codes**2).sum(axis=1).max())
            if not (built.metadata.relation_bonus >= bound + 1 and bound >= largest - 1e-12):
                return False
    return True


def check_grid_code_length_in_library() -> bool:
    """``GridCodes(p).min_code_length(N)`` is the smallest k with ``2^(p·k) >= N``."""
    from geoconstruct.codes.codebooks import GridCodes

    ok = True
    for bits in range(1, 17):
        for n in SAMPLED_SIZES:
            k = GridCodes(bits=bits).min_code_length(n)
            ok &= sp.Integer(2) ** (bits * k) >= n
            ok &= k == 1 or sp.Integer(2) ** (bits * (k - 1)) < n
    return bool(ok)


def check_grid_exactness_in_library() -> bool:
    """``exact_grid_logits(p, k, m)`` holds iff the largest partial sum of a logit, a multiple of
    1/2 of size ``k·2^(2p−2) + k·2^(2p−3)``, is at most ``2^(m−1)`` (block_recall.md)."""
    from geoconstruct.codes.codebooks import SIGNIFICAND_BITS, exact_grid_logits

    ok = True
    for significand in SIGNIFICAND_BITS.values():
        for bits in range(1, 17):
            for k in (1, 2, 3, 4, 7, 16, 1000):
                products = k * sp.Integer(2) ** (2 * bits - 2)
                bias = k * sp.Integer(2) ** (2 * bits - 2) / 2
                representable = products + bias <= sp.Integer(2) ** (significand - 1)
                ok &= exact_grid_logits(bits, k, significand) == bool(representable)
    return bool(ok)


def check_unit_code_length_in_library() -> bool:
    """``GaussianCodes(μ).min_code_length(N)`` is ``⌈2·ln(2N(N−1))/μ²⌉`` (unit_codes.md)."""
    from geoconstruct.codes.codebooks import GaussianCodes, RademacherCodes

    ok = True
    for family_type in (GaussianCodes, RademacherCodes):
        for mu in (sp.Rational(1, 2), sp.Rational(3, 4), sp.Rational(7, 8)):
            family = family_type(max_coherence=float(mu))
            for n in SAMPLED_SIZES[1:]:
                k = family.min_code_length(n)
                threshold = 2 * sp.log(2 * n * (n - 1)) / mu**2
                ok &= _at_least(k, threshold) and not _at_least(k - 1, threshold)
    return bool(ok)


DOCUMENTED_MARGIN = sp.Rational(1, 2**16)  # γ, as superposed_recall.md states it
LAWS = {"GaussianCodes": "sphere", "RademacherCodes": "signs"}  # the law each family's c has


def _documented_bound(n: int, relations: int, k: int, law: str) -> float:
    """``N(N−1)R·min(Theorem 1, Theorem 2)`` at the documented γ, the pairs and Theorem 1's
    exponent written here (Theorem 2's per-pair tail from the library, at an explicit γ)."""
    import math

    from geoconstruct.constructions import superposed_bound

    gamma = float(DOCUMENTED_MARGIN)
    rate = (8 * relations - 9 - 16 * gamma * (relations - 1)) / (32 * (relations - 1) ** 2)
    exact = superposed_bound.pair_failure(k, relations, gamma, law)
    return min(1.0, n * (n - 1) * relations * min(math.exp(-k * rate), exact))


def check_superposed_length_in_library() -> bool:
    """The superposed layout's k (R >= 2, random codes) is the smallest at which
    ``N(N−1)R·min(Theorem 1, Theorem 2)`` is at most the documented δ = 1/100 at the documented
    γ = 2^-16, for the law of each family's inner products (sphere for gaussian, signs for
    rademacher); ``superposed_failure_bound`` reports that bound; the guarantee states δ, the
    margin 2^-16 and the pass within 2^-17; no coherence check runs. A δ placed just below the
    bound at one code length less must cost exactly one more coordinate, so a code length
    computed without γ fails (superposed_recall.md)."""
    import re

    from geoconstruct.codes.codebooks import GaussianCodes, RademacherCodes
    from geoconstruct.constructions import layouts, superposed_bound

    delta = float(DOCUMENTED_DELTA)
    layout = layouts.LAYOUTS["superposed"]
    sizes = ((2, 2), (3, 3), (1000, 2), (1000, 3), (1000, 4), (1000, 8), (65_536, 2), (65_536, 4))
    for family in (GaussianCodes(), RademacherCodes()):
        law = LAWS[type(family).__name__]
        if family.inner_product_law != law:
            return False
        for n, relations in sizes:  # each step returns at the first failure
            k = layout.relations.min_code_length(n, relations, family)
            at_k = _documented_bound(n, relations, k, law)
            if at_k > delta:
                return False
            shortest = family.shortest_code_length(n)
            if k > shortest and _documented_bound(n, relations, k - 1, law) <= delta:
                return False
            library = superposed_bound.superposed_failure_bound(n, relations, k, inner_products=law)
            if abs(library - at_k) > 1e-12 * at_k:
                return False
            if layout.checks_coherence(n, relations, family, k):
                return False
            guarantee = layout.relations.proved_guarantee(n, relations, family, k)
            exponents = [int(e) for e in re.findall(r"2\^(-\d+)", guarantee.statement)]
            # δ, the margin γ, and the pass within γ/2
            if guarantee.failure_probability != delta or exponents != [-16, -17]:
                return False
            if n == 1000 and k > shortest:  # the boundary probe
                probe = _documented_bound(n, relations, k - 1, law) * (1 - 1e-6)
                if _documented_bound(n, relations, k, law) > probe:
                    return False
                found = superposed_bound.superposed_code_length(
                    n, relations, failure_probability=probe, inner_products=law
                )
                if found != k:
                    return False
    return True


def check_lattice_sum_in_library() -> bool:
    """On S², a sphere coordinate is uniform on [−1, 1] (Archimedes), so a sum of m of them has
    the Irwin–Hall law, exactly, in sympy. The library's lattice brackets
    (``coordinate_sum_tail``) hold it between them at every tested x, and are within the proof's
    error: the rounded sums differ from S by at most m·h, plus one lattice point each side."""
    from geoconstruct.codes.sphere import coordinate_sum_tail

    ok = True
    for m in (1, 2, 3, 5):
        # S = 2·(sum of m uniforms on [0, 1]) − m; P(S > s) = 1 − F_IH((s + m)/2)
        t = sp.Symbol("t", real=True)
        cdf = sum(
            (-1) ** j * sp.binomial(m, j) * sp.Max(t - j, 0) ** m for j in range(m + 1)
        ) / sp.factorial(m)
        law = coordinate_sum_tail(3, m)
        h = law.step
        for s in (-0.9 * m, -0.5, 0.0, 0.3, 0.5 * m, 0.9 * m):
            exact = 1 - cdf.subs(t, sp.Rational(s).limit_denominator(10**6) / 2 + sp.Rational(m, 2))
            exact = sp.N(exact, 30)
            upper, lower = float(law.upper(s)), float(law.lower(s))
            ok &= lower <= exact * (1 + 1e-12) + 1e-15 and exact <= upper * (1 + 1e-12) + 1e-15
            # upper <= P(S > x − (m+1)h), lower >= P(S > x + (m+1)h), and S's density is <= 1/2
            ok &= upper - lower <= (m + 1) * h + 1e-12
    return bool(ok)


def check_pair_failure_in_library() -> bool:
    """Theorem 2 for R = 3 against an independent evaluation: scipy quadrature of
    ``E_c[P(w_1 + w_2 > x(c))]`` with ``P(w_1 + w_2 > x) = ∫ f_k(w)·T_k(x − w) dw`` (f_k the
    sphere coordinate's density, T_k its tail by the incomplete beta function) lies inside the
    library's bracket, and the bracket is within 25 % (superposed_recall.md, Arithmetic)."""
    import math

    from scipy.integrate import quad
    from scipy.special import beta, betainc

    from geoconstruct.constructions import superposed_bound

    gamma = float(DOCUMENTED_MARGIN)

    def tail(k: int, x: float) -> float:
        if x <= -1:
            return 1.0
        if x >= 1:
            return 0.0
        upper = 0.5 * betainc((k - 1) / 2, 0.5, 1 - x * x)
        return upper if x >= 0 else 1 - upper

    def density(k: int, w: float) -> float:
        return (1 - w * w) ** ((k - 3) / 2) / beta((k - 1) / 2, 0.5)

    def sum_tail(k: int, x: float) -> float:
        value, _ = quad(lambda w: density(k, w) * tail(k, x - w), -1, 1, limit=200, epsrel=1e-9)
        return value

    def average(k: int) -> float:
        def integrand(c: float) -> float:
            distance = math.sqrt(2 * (1 - c))
            return density(k, c) * sum_tail(k, distance / 2 - gamma / distance)

        value, _ = quad(integrand, -1, 0.999, points=[0.0], limit=100, epsrel=1e-7)
        return value

    ok = True
    for k in (40, 80):
        exact = average(k)
        low, high = superposed_bound.pair_failure_bracket(k, 3, gamma)
        ok &= low <= exact * (1 + 1e-5) and exact <= high * (1 + 1e-5) and high <= 1.25 * exact
    return bool(ok)


def check_read_maps_haar_in_library(draws: int = 400) -> bool:
    """Step 1 needs every ``B_r u`` uniform on the sphere: the read maps Haar-distributed. For
    k = 3, ``(B e_1)_1`` is then uniform on [−1, 1], positive with probability 1/2; over 400
    seeded draws the positive count lies in the binomial interval of false-alarm 10⁻⁹ (a QR
    without the sign fix gives a fixed sign), and every map is orthogonal."""
    import numpy as np
    from scipy.stats import binom

    from geoconstruct.codes.codebooks import GaussianCodes
    from geoconstruct.constructions import layouts

    layout = layouts.LAYOUTS["superposed"]
    codebook = GaussianCodes().build(4, 3, np.random.default_rng(0))
    maps = layout.relations.read_maps(draws, codebook, np.random.default_rng(1))
    ok = bool(np.allclose(np.einsum("nij,nkj->nik", maps, maps), np.eye(3), atol=1e-12))
    positive = int((maps[:, 0, 0] > 0).sum())
    low, high = binom.ppf(0.5e-9, draws, 0.5), binom.isf(0.5e-9, draws, 0.5)
    ok &= low <= positive <= high
    # and the first coordinate's law is uniform on [−1, 1]: each quarter holds its share
    quarters = np.histogram(maps[:, 0, 0], bins=[-1, -0.5, 0, 0.5, 1])[0]
    low, high = binom.ppf(0.5e-9, draws, 0.25), binom.isf(0.5e-9, draws, 0.25)
    ok &= bool(np.all((quarters >= low) & (quarters <= high)))
    return bool(ok)


def check_gate_scale_in_library() -> bool:
    """λ bounds every selected coordinate for every set of facts (gate_lemma.md): block, the
    largest coordinate a code of the family can have; superposed, ``R·max‖u‖``."""
    import numpy as np

    from geoconstruct.codes.codebooks import GaussianCodes, GridCodes
    from geoconstruct.constructions.layouts import LAYOUTS

    ok = True
    for bits in range(1, 17):
        book = GridCodes(bits=bits).build(min(2**bits, 4096), 1, np.random.default_rng(0))
        largest = sp.Integer(2) ** (bits - 1)  # the code −2^(p−1) has this coordinate
        ok &= sp.Float(LAYOUTS["block_separate"].gate_scale(book, 3)) >= largest
        ok &= sp.Float(LAYOUTS["block"].gate_scale(book, 3)) >= 2 * largest  # in place: doubled
    unit = GaussianCodes().build(50, 117, np.random.default_rng(0))
    for relations in (1, 2, 5, 16):
        gate = LAYOUTS["superposed_separate"].gate_scale(unit, relations)
        ok &= sp.Float(gate) >= relations  # ‖u‖ = 1
        ok &= sp.Float(LAYOUTS["superposed"].gate_scale(unit, relations)) >= 2 * relations
    return bool(ok)


def check_score_gap_in_library() -> bool:
    """The multi-hop score gap s keeps the output error ``2√k·g·(g·e^−s)·max|u|`` at most half
    the decoding tolerance, and the recorded leakage is ``g/(e^s + g)`` (multi_hop.md)."""
    import numpy as np

    from geoconstruct.codes.codebooks import GaussianCodes, GridCodes
    from geoconstruct.constructions import multi_hop

    ok = True
    books = [GridCodes(bits=b).build(100, 7, np.random.default_rng(0)) for b in (1, 8, 16)]
    books.append(GaussianCodes().build(100, 80, np.random.default_rng(0)))
    for book in books:
        bound_mu = 0.5 if book.unit_norm else None
        for g in (1, 2, 3, 4, 8):
            bound = multi_hop._attention_bound(book, g, bound_mu)
            s = sp.Float(bound.score_gap, 50)
            k, coordinate = book.code_length, sp.Float(book.coordinate_bound, 50)
            tolerance = (1 - sp.Rational(1, 2)) / 2 if book.unit_norm else sp.Rational(1, 2)
            error = 2 * sp.sqrt(k) * g * (g * sp.exp(-s)) * coordinate
            ok &= sp.N(error, 50) <= tolerance / 2
            ok &= sp.Rational(bound.decoding_tolerance) == tolerance  # exact binary fractions
            leakage = g / (sp.exp(s) + g)
            ok &= abs(sp.N(leakage, 50) - sp.Float(bound.leakage_bound, 50)) <= 1e-12 * leakage
    return bool(ok)


def check_bch_coherence_in_library() -> bool:
    """``bch.coherence_bound(m, d)`` is ``((d−1)·2^(m/2) + 1)/(2^m − 1)``: Weil's bound on the
    trace sum, ``|S| <= (d−1)√q``, through ``S = 1 + (n − 2w)`` (bch_codes.md)."""
    from geoconstruct.codes import bch

    ok = True
    for m in range(2, 21):
        q, n = sp.Integer(2) ** m, sp.Integer(2) ** m - 1
        for degree in range(1, 16, 2):
            claimed = ((degree - 1) * sp.sqrt(q) + 1) / n
            ok &= abs(sp.Float(bch.coherence_bound(m, degree), 50) - sp.N(claimed, 50)) <= 1e-12
    return bool(ok)


def check_bch_length_in_library() -> bool:
    """The shortest dual-BCH code for N = 2^16 attributes with coherence <= 1/2 has length 127:
    m = 6 would need t = 3 (2^(6·3) >= 2^16) and then μ_t = (2·3 − 1 − 1 + ...) exceeds 1/2."""
    from geoconstruct.codes import bch
    from geoconstruct.codes.codebooks import BCHCodes

    ok = BCHCodes().min_code_length(2**16) == 127
    # m = 6, t = 3: degree 2t − 1 = 5 gives (4·8 + 1)/63 = 33/63 > 1/2
    ok &= sp.Rational(4 * 8 + 1, 63) == sp.Rational(33, 63)
    ok &= abs(bch.coherence_bound(6, 5) - 33 / 63) < 1e-12 and 33 / 63 > 0.5
    return bool(ok)


def check_packing_bound_in_library() -> bool:
    """``packing_min_code_length(N, μ)`` is the smallest k with ``2N·cap(k, arccos(μ)/2) <= 1``:
    the 2N codes ±u_a are pairwise at angle >= arccos μ, so caps of half that radius are disjoint
    (lower_bounds.md). The cap fraction is ``½·I_{sin²φ}((k−1)/2, ½)``, and ½ on S^0 (k = 1)."""
    from geoconstruct.analysis.theory.bounds import packing_min_code_length

    def cap(k: int, mu: sp.Expr) -> sp.Expr:
        if k == 1:
            return HALF
        phi = sp.acos(mu) / 2
        return HALF * sp.betainc_regularized(sp.Rational(k - 1, 2), HALF, 0, sp.sin(phi) ** 2)

    ok = True
    for mu in (sp.Rational(1, 2), sp.Rational(9, 10)):
        for n in (1, 2, 3, 16, 1000, 2**16):
            k = packing_min_code_length(n, float(mu))
            ok &= sp.N(2 * n * cap(k, mu), 30) <= 1
            ok &= k == 1 or sp.N(2 * n * cap(k - 1, mu), 30) > 1
    ok &= packing_min_code_length(2**16, 0.5) == 15
    return bool(ok)


def check_multi_hop_dimension_in_library() -> bool:
    """``multi_hop_dimension`` is ``(D_g + 1)·k + (R + 2)(g + 1)``, with D_g = Σ_{h<=g} R^h; at
    g = 1 that is ``(R + 1)·k + 2(R + 2)``: 22 at N = 4096, R = 4 (multi_hop.md)."""
    from geoconstruct.codes.codebooks import GridCodes
    from geoconstruct.constructions.multi_hop import hops_per_pass, multi_hop_dimension

    h = sp.Symbol("h", integer=True)
    ok = multi_hop_dimension(4096, 4, 4, 4) == (4 + 1) * 2 + 2 * (4 + 2)
    for n in (2, 100, 4096):
        k = GridCodes().min_code_length(n)
        for relations in (1, 2, 3, 4):
            for hops in (1, 2, 3, 4):
                for steps in range(1, hops + 1):
                    g = hops_per_pass(hops, steps)
                    chains = sp.summation(sp.Integer(relations) ** h, (h, 1, g))
                    expected = (chains + 1) * k + (relations + 2) * (g + 1)
                    ok &= multi_hop_dimension(n, relations, hops, steps) == expected
    return bool(ok)


# ---------------------------------------------------------------------------- in_place_readout.md


def check_in_place_gate_bound(gate_scale_factor: sp.Expr = TWO) -> bool:
    """Two p-bit grid coordinates differ by up to 2^p − 1; λ_in = factor·2^{p−1} closes the gate
    on that difference only if factor >= 2 (and then for every p)."""
    ok = True
    for bits in range(1, 17):
        half = sp.Integer(2) ** (bits - 1)
        largest_difference = (half - 1) - (-half)  # 2^p − 1
        lam = gate_scale_factor * half
        closed = sp.Max(largest_difference - lam, 0) - sp.Max(-largest_difference - lam, 0)
        ok &= closed == 0
    return bool(ok)


# ---------------------------------------------------------------------------- sampled_recall.md


def check_hypergeometric_likelihood_ratio(population: int = 9, n_sampled: int = 4) -> bool:
    """P(X = x | K+1)/P(X = x | K) = (K+1)(M−K−n+x)/((K+1−x)(M−K)), increasing in x: the
    hypergeometric family has a monotone likelihood ratio in K (checked exactly, every K, x)."""
    M, n = population, n_sampled

    def pmf(x: int, k: int) -> sp.Expr:
        return sp.binomial(k, x) * sp.binomial(M - k, n - x) / sp.binomial(M, n)

    ok = True
    for k in range(M):
        ratios = []
        for x in range(n + 1):
            if pmf(x, k) == 0 or pmf(x, k + 1) == 0:
                continue
            ratio = pmf(x, k + 1) / pmf(x, k)
            ok &= (
                sp.simplify(ratio - sp.Rational((k + 1) * (M - k - n + x), (k + 1 - x) * (M - k)))
                == 0
            )
            ratios.append(ratio)
        ok &= all(a < b for a, b in itertools.pairwise(ratios))
    return bool(ok)


def check_certificate_margins_in_library() -> bool:
    """The certificate's margin for a clean read-out is the proofs' margin: exactly 1/2 for grid
    codes (``1/2 − δ`` at δ = 0), and ``1 − μ`` for unit codes of coherence μ, less only the
    float64 slack; in float32, less at least twice the rounding bound ε (certified_recall.md)."""
    import numpy as np

    from geoconstruct.constructions.single_hop import construct_single_hop
    from geoconstruct.constructions.single_hop_sizes import proven_dimension, required_dimension

    ok = True
    for n, relations in ((64, 2), (300, 3)):
        # the block layout: a clean read-out, y = u exactly
        d = required_dimension(n, relations, layout="block", codebook="grid")
        grid = construct_single_hop(n, relations, d, layout="block", codebook="grid", seed=1)
        margins = grid.certify().margins
        ok &= bool(np.all(margins == 0.5))  # exact: no slack is needed or taken
        d = proven_dimension(n, relations, layout="block", codebook="gaussian")
        unit = construct_single_hop(n, relations, d, layout="block", codebook="gaussian", seed=1)
        certificate = unit.certify()
        mu = sp.Float(unit.codebook.coherence(), 50)
        proved = 1 - mu  # the proofs' margin of a clean code
        smallest = sp.Float(float(certificate.margins.min()), 50)
        ok &= bool(smallest <= proved) and bool(smallest >= proved - sp.Float(1e-9))
        # in float32, a computed logit is within ε of the exact one, so a margin moves by up to
        # 2ε (Step 4): the certified margin is at most the clean margin less 2ε
        single = construct_single_hop(
            n, relations, d, layout="block", codebook="gaussian", seed=1, dtype="float32"
        )
        certificate = single.certify()
        epsilon = sp.Float(certificate.rounding_error, 50)
        mu = sp.Float(single.codebook.coherence(), 50)
        smallest = sp.Float(float(certificate.margins.min()), 50)
        ok &= bool(epsilon > 0) and bool(smallest <= 1 - mu - 2 * epsilon + sp.Float(1e-9))
    return bool(ok)


def check_significand_bits_in_library() -> bool:
    """The significands the exactness tests use are IEEE 754's: binary64 has p = 53 and
    binary32 p = 24 (with the implicit bit), so p − 1 fraction bits are stored; the library's
    table and numpy's dtypes say the same (block_recall.md, certified_recall.md Step 4)."""
    import numpy as np

    from geoconstruct.codes.codebooks import SIGNIFICAND_BITS

    ieee = {"float64": (64, 11), "float32": (32, 8)}  # (width, exponent bits): p = width − e
    ok = set(SIGNIFICAND_BITS) == set(ieee)
    for name, (width, exponent_bits) in ieee.items():
        p = width - exponent_bits  # sign bit out, implicit bit in
        ok &= SIGNIFICAND_BITS[name] == p
        ok &= np.finfo(np.dtype(name)).nmant + 1 == p
        # 2^p + 1 is the first integer the format cannot hold
        ok &= float(np.array(2**p + 1, dtype=name)) != 2**p + 1
        ok &= float(np.array(2**p - 1, dtype=name)) == 2**p - 1
    return bool(ok)


def check_rounding_bound_in_library() -> bool:
    """The certificate's ε bounds the rounding of every computed logit (certified_recall.md
    Step 4): on float32 constructions with random codes, ``max |float32 logit − exact logit|``
    (the exact one: the same float32 weights, a float64 pass, whose own error is ~10⁻¹³) is at
    most ε, and every certified margin is at most the float64 margin."""
    import dataclasses

    import numpy as np

    from geoconstruct import construct_single_hop, proven_dimension
    from geoconstruct.model.transformer import forward

    ok = True
    for layout in ("block", "superposed"):
        n, relations = 120, 2
        d = proven_dimension(n, relations, layout=layout, codebook="gaussian")
        built = construct_single_hop(n, relations, d, layout=layout, dtype="float32", seed=2)
        tokens, answers = built.prompts()
        computed = forward(built.weights, built.config, tokens, last_position_only=True)
        wide = {name: np.asarray(array, np.float64) for name, array in built.weights.items()}
        wide_config = dataclasses.replace(built.config, dtype="float64")
        exact = forward(wide, wide_config, tokens, last_position_only=True)
        observed = float(np.abs(computed.astype(np.float64) - exact).max())
        certificate = built.certify()
        ok &= observed > 0 and sp.Float(certificate.rounding_error) >= sp.Float(observed) * (
            1 + sp.Float("1e-6")
        )
        rows = np.arange(len(answers))
        own = exact[rows, answers]
        exact[rows, answers] = -np.inf
        margins = own - exact.max(axis=1)
        ok &= bool(np.all(certificate.margins <= margins + 1e-9))
    return bool(ok)


def check_sampled_interval_in_library(population: int = 20, n_sampled: int = 8) -> bool:
    """The interval the library labels 95 % covers K with probability >= 95 % for every K, the
    probability computed exactly from the hypergeometric law in rationals (sampled_recall.md)."""
    from geoconstruct.verification.report import RecallReport

    M, n = population, n_sampled
    bounds = {}
    for x in range(n + 1):
        report = RecallReport(
            n_queries=n,
            n_correct=x,
            n_facts=n,
            min_margin=0.0,
            failures=(),
            sampled=True,
            total_queries=M,
        )
        bounds[x] = report.accuracy_interval
    ok = True
    for K in range(M + 1):
        covered = sp.Integer(0)
        for x in range(max(0, n - (M - K)), min(n, K) + 1):
            low, high = bounds[x]
            if low * M - 1e-9 <= K <= high * M + 1e-9:
                covered += sp.binomial(K, x) * sp.binomial(M - K, n - x) / sp.binomial(M, n)
        ok &= covered >= sp.Rational(95, 100)
    return bool(ok)


def check_r2_tail_monotone() -> bool:
    """x(c) = √(2(1−c))/2 − γ/√(2(1−c)) decreases on c < 1 for every γ >= 0, so T_k(x(c))
    increases in c and the right end of an interval bounds it there (superposed_recall.md,
    Theorem 2)."""
    gamma = sp.Symbol("gamma", nonnegative=True)
    w = sp.Symbol("w", positive=True)  # w = 1 − c > 0
    distance = sp.sqrt(2 * w)
    x = distance / 2 - gamma / distance
    derivative_in_c = -sp.diff(x, w)  # dc = −dw
    # −dx/dw = −(1/(2√(2w)) + γ/(2w√(2w))) < 0
    expected = -(1 / (2 * sp.sqrt(2 * w)) + gamma / (2 * w * sp.sqrt(2 * w)))
    ok = sp.simplify(derivative_in_c - expected) == 0
    ok &= bool(expected.subs({gamma: 0, w: 1}) < 0)
    return bool(ok)


def check_r2_tail_in_library() -> bool:
    """The library's R = 2 bound against an independent evaluation: mpmath quadrature of
    ``T_k(x(c))·f_k(c)`` (f_k the sphere coordinate's density) at 30 digits is inside the
    library's bracket and within 1 % of its upper end; the R = 2 union bound counts
    ``2N(N−1)`` pairs; and the library's k is the smallest with ``2N(N−1)·p_k <= δ`` at the
    documented γ (superposed_recall.md, Theorem 2)."""
    import mpmath

    from geoconstruct.codes.codebooks import GaussianCodes
    from geoconstruct.constructions import layouts, superposed_bound

    mpmath.mp.dps = 30
    gamma = mpmath.mpf(float(DOCUMENTED_MARGIN))

    def tail(k: int, x: object) -> object:
        if x <= -1:
            return mpmath.mpf(1)
        if x >= 1:
            return mpmath.mpf(0)
        upper = mpmath.betainc((k - 1) / mpmath.mpf(2), 0.5, 0, 1 - x**2, regularized=True) / 2
        return upper if x >= 0 else 1 - upper

    def average(k: int) -> object:
        norm = mpmath.beta((k - 1) / mpmath.mpf(2), 0.5)

        def integrand(c: object) -> object:
            distance = mpmath.sqrt(2 * (1 - c))
            x = distance / 2 - gamma / distance
            return tail(k, x) * (1 - c**2) ** ((k - 3) / mpmath.mpf(2)) / norm

        return mpmath.quad(integrand, [-1, -0.5, 0, 0.5, 1])

    ok = True
    for k in (20, 75, 117):
        exact = average(k)
        low, high = superposed_bound.pair_failure_bracket(k, 2, float(gamma))
        ok &= mpmath.mpf(low) <= exact * (1 + mpmath.mpf("1e-9"))
        ok &= mpmath.mpf(high) >= exact * (1 - mpmath.mpf("1e-9")) and high <= exact * 1.01
    layout = layouts.LAYOUTS["superposed"]
    for n in (64, 4096, 2**20):
        k = layout.relations.min_code_length(n, 2, GaussianCodes())
        pairs = 2 * n * (n - 1)
        p_k = superposed_bound.pair_failure(k, 2, float(gamma))
        ok &= pairs * p_k <= DOCUMENTED_DELTA
        ok &= pairs * superposed_bound.pair_failure(k - 1, 2, float(gamma)) > DOCUMENTED_DELTA
        library = superposed_bound.superposed_failure_bound(n, 2, k)
        ok &= abs(library - pairs * p_k) <= 1e-12 * pairs * p_k
    return bool(ok)

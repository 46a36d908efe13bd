"""The capacity law as a probability: P(every fact recalled) against d, and where it crosses q.

Each d is a fresh draw on each seed, so whether one seed recalls every fact is not monotone in d;
what is well defined is the probability ``P(d)`` that a draw at d recalls every fact, estimated by
the share of seeds that do, with its exact (Clopper–Pearson) 95 % interval
(:func:`success_interval`).

``d_q``, the d at which ``P(d) = q`` (``d_50``, ``d_95``), comes from a two-parameter law fitted
to every d at once by maximum likelihood (:func:`fit_success_law`): failing facts are rare events
whose expected number falls exponentially in d (as the union bound's ``N²R·e^{−αk}`` does), so
``P(d) = exp(−e^{a − b·d})``, a binomial model with the complementary log-log link. Its 95 %
intervals for ``d_q`` are profile-likelihood intervals (the d's whose best fit with ``d_q`` fixed
there loses at most ``χ²₁(0.95)/2`` of log-likelihood). The law uses no prediction: the
prediction's own ``d_50`` and ``d_95`` are set beside it (:func:`~geoconstruct.analysis.theory.
prediction.predicted_success_dimension`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIDENCE", "SuccessLaw", "fit_success_law", "success_interval"]

CONFIDENCE = 0.95
"""The level of every interval here."""

MAX_LOG_SLOPE = 12.0
"""The fitted slope is at most ``e^12`` per measured range of d: outcomes that jump from no seed
to every seed between two d's (separable) have no finite fit, and this stands for a step."""


def success_interval(successes: int, trials: int) -> tuple[float, float]:
    """The exact (Clopper–Pearson) 95 % interval of a binomial proportion.

    Parameters
    ----------
    successes, trials : int
        Seeds that recalled every fact, and seeds.

    Examples
    --------
    >>> [round(bound, 4) for bound in success_interval(50, 50)]
    [0.9289, 1.0]
    """
    from scipy import stats  # imported when used: scipy.stats is slow to import

    interval = stats.binomtest(successes, trials).proportion_ci(CONFIDENCE, method="exact")
    return float(interval.low), float(interval.high)


@dataclass(frozen=True)
class SuccessLaw:
    """``P(d) = exp(−e^{a − b·d})`` fitted to the seeds' outcomes, and its quantiles.

    ``d50``/``d95`` and their ``_low``/``_high`` bounds are None when the outcomes do not pin
    them (``note`` says why: every d passed, none did, or a bound lies outside the measured d's).
    """

    intercept: float | None
    slope: float | None
    d50: float | None
    d50_low: float | None
    d50_high: float | None
    d95: float | None
    d95_low: float | None
    d95_high: float | None
    note: str | None

    def probability(self, d: float) -> float | None:
        """The fitted ``P(d)`` (None without a fit)."""
        if self.intercept is None or self.slope is None:
            return None
        return math.exp(-math.exp(self.intercept - self.slope * d))


def _unscale(value: float | None, centre: float, scale: float) -> float | None:
    """A fitted x back in units of d."""
    return None if value is None else centre + scale * value


def _log_likelihood(a: float, b: float, dims: np.ndarray, wins: np.ndarray, n: np.ndarray) -> float:
    """Binomial log-likelihood of ``P(d) = exp(−e^{a − b·d})`` (no constant terms)."""
    rate = np.exp(np.clip(a - b * dims, -700, 700))  # expected failing facts: −ln P
    log_p = -rate
    log_q = np.log(-np.expm1(-rate))  # ln(1 − P), accurate for small rates too
    return float(np.sum(wins * log_p + (n - wins) * log_q))


def fit_success_law(
    dims: Sequence[int], successes: Sequence[int], trials: Sequence[int]
) -> SuccessLaw:
    """Fit ``P(d) = exp(−e^{a − b·d})`` by maximum likelihood, with profile intervals for d_q.

    Parameters
    ----------
    dims : sequence of int
        The d's measured.
    successes, trials : sequence of int
        At each d, the seeds that recalled every fact, and the seeds.

    Returns
    -------
    SuccessLaw

    Examples
    --------
    >>> law = fit_success_law([50, 60, 70, 80], [2, 20, 45, 50], [50, 50, 50, 50])
    >>> law.d50_low < law.d50 < law.d50_high < law.d95, 55 < law.d50 < 65
    (True, True)
    """
    from scipy import optimize, stats  # imported when used: scipy.stats is slow to import

    d = np.asarray(dims, dtype=np.float64)
    wins = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if len(d) == 0 or np.any(n <= 0) or np.any(wins < 0) or np.any(wins > n):
        raise ValueError("each d needs trials >= 1 and 0 <= successes <= trials")
    missing = {name: None for name in ("d50", "d50_low", "d50_high", "d95", "d95_low", "d95_high")}
    if np.all(wins == n) or np.all(wins == 0):
        note = "every seed recalled every fact at every d" if wins[0] == n[0] else "no seed did"
        return SuccessLaw(intercept=None, slope=None, note=note + ": no crossing", **missing)
    scale, centre = max(float(np.ptp(d)), 1.0), float(np.mean(d))
    x = (d - centre) / scale  # fitted on a unit scale: a = alpha − beta·x

    def negative(params: np.ndarray) -> float:  # params: alpha and ln(beta) > ... any real
        return -_log_likelihood(params[0], math.exp(min(params[1], MAX_LOG_SLOPE)), x, wins, n)

    # start from the least-squares line through ln(−ln share) where a share is inside (0, 1)
    inside = (wins > 0) & (wins < n)
    starts = [(0.0, math.log(5.0))]
    if inside.sum() >= 2 and np.ptp(x[inside]) > 0:
        slope, level = np.polyfit(x[inside], np.log(-np.log(wins[inside] / n[inside])), 1)
        if slope < 0:
            starts.insert(0, (float(level), math.log(-float(slope))))
    best = min(
        (
            optimize.minimize(
                negative,
                np.array(start),
                method="Nelder-Mead",
                options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 5_000},
            )
            for start in starts
        ),
        key=lambda result: float(result.fun),
    )
    alpha, beta = float(best.x[0]), math.exp(min(float(best.x[1]), MAX_LOG_SLOPE))
    peak = -float(best.fun)
    threshold = float(stats.chi2.ppf(CONFIDENCE, 1)) / 2

    def quantile(q: float) -> tuple[float, float | None, float | None]:
        level = math.log(-math.log(q))  # P(d) = q where alpha − beta·x = level

        def profile(x_q: float) -> float:  # the best log-likelihood with d_q at x_q
            result = optimize.minimize_scalar(
                lambda t: -_log_likelihood(level + math.exp(t) * x_q, math.exp(t), x, wins, n),
                bounds=(math.log(beta) - 8, min(math.log(beta) + 8, MAX_LOG_SLOPE)),
                method="bounded",
                options={"xatol": 1e-10},
            )
            return max(-float(result.fun), _log_likelihood(level + beta * x_q, beta, x, wins, n))

        x_best = (alpha - level) / beta

        def excess(x_q: float) -> float:
            return peak - profile(x_q) - threshold

        span = 2.0  # search the interval's ends within two measured ranges of the estimate
        low = high = None
        if excess(x_best - span) > 0:
            low = float(optimize.brentq(excess, x_best - span, x_best))
        if excess(x_best + span) > 0:
            high = float(optimize.brentq(excess, x_best, x_best + span))
        return centre + scale * x_best, _unscale(low, centre, scale), _unscale(high, centre, scale)

    d50, d50_low, d50_high = quantile(0.5)
    d95, d95_low, d95_high = quantile(0.95)
    inside = min(d) <= d50 <= max(d) and min(d) <= d95 <= max(d)
    return SuccessLaw(
        intercept=alpha + beta * centre / scale,
        slope=beta / scale,
        d50=d50,
        d50_low=d50_low,
        d50_high=d50_high,
        d95=d95,
        d95_low=d95_low,
        d95_high=d95_high,
        note=None if inside else "a quantile lies outside the measured d's (extrapolated)",
    )

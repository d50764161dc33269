// The statistics of the leakage audit and the comparison: the normal and Student-t distributions,
// the mean's t interval and the paired t-test, Holm's step-down correction, and paired tests of
// two evaluations of the same samples (exact binomial or McNemar, with the paired difference's
// interval and the smallest difference the test could detect).

// ---------------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------------

/** 1 - Phi(z), the upper tail of the standard normal, without cancellation for large z. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Phi(z), the standard normal CDF. */
export function normalCdf(z: number): number {
  return normalUpperTail(-z);
}

/** erfc by its Chebyshev fit (Numerical Recipes' erfcc): relative error below 1.2e-7 everywhere. */
const ERFC_COEFFICIENTS = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223,
  0.17087277,
];
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  let poly = 0;
  for (let i = ERFC_COEFFICIENTS.length - 1; i >= 0; i--) poly = ERFC_COEFFICIENTS[i] + t * poly;
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/**
 * The standard normal quantile Phi^-1(p) (Acklam's rational approximation, relative error below
 * 1.2e-9): 1.959964 for 0.975.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low || p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(p < low ? p : 1 - p));
    const x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < low ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xm = x - 1;
  let s = g[0];
  for (let i = 1; i < 9; i++) s += g[i] / (xm + i);
  const t = xm + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (xm + 0.5) * Math.log(t) - t + Math.log(s);
}

/** The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = i >> 1;
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-15) break;
  }
  return front * (f - 1);
}

/** The CDF of Student's t distribution with `df` degrees of freedom (df > 0, not necessarily whole). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0) || Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/**
 * The quantile of Student's t distribution: the t with studentTCdf(t, df) = p, found by bisection
 * on the CDF to full double precision. studentTQuantile(0.975, 4) = 2.776445.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0) || !(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// ---------------------------------------------------------------------------------------------
// Means over replicates (seeds)
// ---------------------------------------------------------------------------------------------

/** The mean of replicates with its t interval. */
export interface MeanInterval {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); NaN for fewer than 2 values. */
  sd: number;
  /** t_{(1+level)/2, n-1} sd / sqrt(n); NaN for fewer than 2 values. */
  halfWidth: number;
  lower: number;
  upper: number;
}

/** The mean of `values` ± its t interval at `level` (default 0.95): mean ± t_{0.975, n-1} sd / sqrt(n). */
export function meanInterval(values: readonly number[], level = 0.95): MeanInterval {
  const n = values.length;
  const mean = n ? values.reduce((s, v) => s + v, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : NaN;
  const halfWidth = n > 1 ? (studentTQuantile((1 + level) / 2, n - 1) * sd) / Math.sqrt(n) : NaN;
  return { n, mean, sd, halfWidth, lower: mean - halfWidth, upper: mean + halfWidth };
}

/** A paired t-test of differences against 0, with the mean difference's interval. */
export interface PairedTTest extends MeanInterval {
  /** mean / (sd / sqrt(n)); NaN for fewer than 2 values. */
  t: number;
  /** Two-sided p-value, from Student's t with n - 1 degrees of freedom. */
  pValue: number;
}

/**
 * The paired t-test of per-replicate differences d_s (e.g. one seed's accuracy with a noise kind
 * minus the same seed's without): H0 mean(d) = 0, two-sided. All-equal differences give p = 1
 * when they are 0 and p = 0 otherwise.
 */
export function pairedTTest(differences: readonly number[], level = 0.95): PairedTTest {
  const m = meanInterval(differences, level);
  if (m.n < 2) return { ...m, t: NaN, pValue: NaN };
  if (m.sd === 0) return { ...m, t: m.mean === 0 ? 0 : Math.sign(m.mean) * Infinity, pValue: m.mean === 0 ? 1 : 0 };
  const t = m.mean / (m.sd / Math.sqrt(m.n));
  return { ...m, t, pValue: Math.min(1, 2 * studentTCdf(-Math.abs(t), m.n - 1)) };
}

/**
 * Holm's step-down adjustment of p-values for a family of tests (strong control of the
 * family-wise error rate): sorted ascending, p_(i) becomes max over j <= i of min(1, (m - j + 1) p_(j)).
 * Returned in the input order; NaN entries stay NaN and do not count in m.
 */
export function holm(pValues: readonly number[]): number[] {
  const order = pValues
    .map((p, i) => ({ p, i }))
    .filter((x) => !Number.isNaN(x.p))
    .sort((a, b) => a.p - b.p);
  const m = order.length;
  const out = pValues.map(() => NaN);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Two evaluations of the same samples
// ---------------------------------------------------------------------------------------------

/** Below this many discordant samples the test is exact (binomial); from it on, McNemar's z. */
export const EXACT_BELOW = 25;

/** P(X >= k) for X ~ Binomial(n, 1/2). */
export function binomialUpperTail(k: number, n: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let sum = 0;
  for (let i = k; i <= n; i++) sum += Math.exp(logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1) - n * Math.LN2);
  return Math.min(1, sum);
}

/** The paired comparison of two evaluations of the same n samples. */
export interface PairedProportionTest {
  /** Samples right in the first evaluation and wrong in the second. */
  b: number;
  /** Samples wrong in the first and right in the second. */
  c: number;
  /** Samples in both evaluations. */
  n: number;
  /** Accuracy of the first minus the second: (b - c) / n. */
  difference: number;
  /** 95% interval of the difference: (b - c)/n ± 1.96 sqrt((b + c) - (b - c)^2/n) / n. */
  lower: number;
  upper: number;
  /** 'exact': binomial on the b + c discordant samples (b + c < 25); 'mcnemar': continuity-corrected z. */
  method: 'exact' | 'mcnemar';
  /** 'greater': H1 first better (one-sided); 'two-sided': H1 they differ. */
  alternative: 'greater' | 'two-sided';
  /** The continuity-corrected McNemar z ((b - c - 1)/sqrt(b + c) one-sided, (|b - c| - 1)/sqrt(b + c) two-sided; 0 when b + c = 0), reported whatever the method. */
  z: number;
  pValue: number;
  alpha: number;
  significant: boolean;
  /** The smallest true difference this test detects with 80% power at `alpha` (see minimumDetectableDifference). */
  minimumDetectable: number;
}

/**
 * The paired test of two evaluations from their discordant counts: under H0 each discordant
 * sample is equally likely to favour either evaluation. Exact binomial when b + c < 25,
 * McNemar's continuity-corrected z otherwise.
 */
export function pairedProportionTest(
  b: number,
  c: number,
  n: number,
  alternative: 'greater' | 'two-sided',
  alpha: number,
): PairedProportionTest {
  const discordant = b + c;
  const difference = n > 0 ? (b - c) / n : NaN;
  // The Wald interval of a paired difference of proportions (e.g. Agresti, Categorical Data Analysis, 10.1).
  const half = n > 0 ? (1.959963984540054 * Math.sqrt(Math.max(0, discordant - (b - c) ** 2 / n))) / n : NaN;
  const method = discordant < EXACT_BELOW ? 'exact' : 'mcnemar';
  const z =
    discordant === 0
      ? 0
      : alternative === 'greater'
        ? (b - c - 1) / Math.sqrt(discordant)
        : Math.max(0, Math.abs(b - c) - 1) / Math.sqrt(discordant);
  let pValue: number;
  if (discordant === 0) pValue = 1;
  else if (method === 'exact') {
    const upper = binomialUpperTail(b, discordant);
    pValue = alternative === 'greater' ? upper : Math.min(1, 2 * Math.min(upper, binomialUpperTail(c, discordant)));
  } else {
    pValue = alternative === 'greater' ? normalUpperTail(z) : Math.min(1, 2 * normalUpperTail(z));
  }
  return {
    b,
    c,
    n,
    difference,
    lower: difference - half,
    upper: difference + half,
    method,
    alternative,
    z,
    pValue,
    alpha,
    significant: pValue < alpha,
    minimumDetectable: minimumDetectableDifference(n, n > 0 ? discordant / n : 0, alpha, alternative),
  };
}

/**
 * The smallest paired difference of proportions delta that a test at level `alpha` detects with
 * probability `power` (default 0.8) on n samples. Connor's sample-size formula for McNemar's test
 * (Biometrics 43:207, 1987), n = (z_a sqrt(psi) + z_b sqrt(psi - delta^2))^2 / delta^2, solved for
 * delta, where z_a = Phi^-1(1 - alpha) (one-sided; alpha/2 two-sided), z_b = Phi^-1(power) and psi
 * is the discordance rate: the observed (b + c)/n, but at least delta (a difference delta needs at
 * least a fraction delta of discordant samples), so that a test that saw no discordance still
 * reports what it could have seen. In [0, 1]; NaN for n = 0.
 */
export function minimumDetectableDifference(
  n: number,
  discordance: number,
  alpha: number,
  alternative: 'greater' | 'two-sided',
  power = 0.8,
): number {
  if (!(n > 0)) return NaN;
  const za = normalQuantile(1 - (alternative === 'greater' ? alpha : alpha / 2));
  const zb = normalQuantile(power);
  // Positive once delta is detectable; increasing in delta on [0, 1].
  const excess = (delta: number) => {
    const psi = Math.max(discordance, delta);
    return Math.sqrt(n) * delta - za * Math.sqrt(psi) - zb * Math.sqrt(Math.max(0, psi - delta * delta));
  };
  if (excess(1) < 0) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = 0.5 * (lo + hi);
    if (excess(mid) < 0) lo = mid;
    else hi = mid;
  }
  return hi;
}

// The statistics of the audit and the comparison against published values and the formulas
// written out: Student's t quantiles, the normal quantile, Holm, the paired t-test, the exact
// binomial and McNemar paths, the paired interval and the minimum detectable difference.
import {
  binomialUpperTail,
  EXACT_BELOW,
  holm,
  meanInterval,
  minimumDetectableDifference,
  normalCdf,
  normalQuantile,
  normalUpperTail,
  pairedProportionTest,
  pairedTTest,
  studentTCdf,
  studentTQuantile,
} from '../lib/statistics';

describe('distributions', () => {
  test("Student's t quantiles match the tables", () => {
    // t_{p, df} from any t table (e.g. NIST/SEMATECH e-Handbook, 1.3.6.7.2).
    const table: [number, number, number][] = [
      [0.975, 1, 12.7062047],
      [0.975, 2, 4.30265273],
      [0.975, 4, 2.77644511],
      [0.975, 9, 2.26215716],
      [0.975, 19, 2.09302405],
      [0.975, 30, 2.04227246],
      [0.995, 10, 3.16927267],
      [0.9, 5, 1.47588405],
      [0.8, 4, 0.94096457],
    ];
    for (const [p, df, t] of table) {
      expect(studentTQuantile(p, df)).toBeCloseTo(t, 6);
      expect(studentTQuantile(1 - p, df)).toBeCloseTo(-t, 6);
      expect(studentTCdf(t, df)).toBeCloseTo(p, 8);
    }
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776, 3); // the example
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.959966, 5); // tends to the normal
    expect(studentTQuantile(0.5, 3)).toBe(0);
    expect(studentTQuantile(0.975, 0)).toBeNaN();
    // df = 1 is the Cauchy distribution: CDF 1/2 + atan(t)/pi.
    for (const t of [-3, -0.5, 0.2, 7]) expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 10);
  });

  test('the normal quantile and tails', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 8);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232306, 8);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621234, 8);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326347874, 8);
    expect(normalCdf(1.959963985)).toBeCloseTo(0.975, 7);
    expect(normalUpperTail(5) / 2.866515719e-7).toBeCloseTo(1, 5);
  });
});

describe('replicates over seeds', () => {
  test('the t interval of a mean: mean ± t_{0.975, n-1} sd / sqrt(n)', () => {
    const v = [0.8, 0.82, 0.84, 0.81, 0.83];
    const m = meanInterval(v);
    expect(m.mean).toBeCloseTo(0.82, 12);
    expect(m.sd).toBeCloseTo(Math.sqrt(0.001 / 4), 12);
    expect(m.halfWidth).toBeCloseTo((2.77644511 * m.sd) / Math.sqrt(5), 8);
    expect(m.lower).toBeCloseTo(m.mean - m.halfWidth, 12);
    expect(meanInterval([0.5]).halfWidth).toBeNaN();
  });

  test('the paired t-test: t = mean / (sd / sqrt(n)), two-sided p from t_{n-1}', () => {
    const d = [0.01, 0.02, -0.005, 0.015, 0.01];
    const r = pairedTTest(d);
    const sd = Math.sqrt(d.reduce((s, x) => s + (x - 0.01) ** 2, 0) / 4);
    expect(r.t).toBeCloseTo(0.01 / (sd / Math.sqrt(5)), 10);
    expect(r.pValue).toBeCloseTo(2 * studentTCdf(-r.t, 4), 12);
    expect(r.pValue).toBeCloseTo(0.0751305, 6); // R: t.test(d)$p.value
    expect(pairedTTest([0, 0, 0]).pValue).toBe(1);
    expect(pairedTTest([0.01, 0.01]).pValue).toBe(0);
    expect(pairedTTest([0.01]).pValue).toBeNaN();
  });

  test("Holm's step-down adjustment (R: p.adjust(p, 'holm'))", () => {
    expect(holm([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02]);
    // Monotone in the sorted order, capped at 1, NaN left out of m.
    const adjusted = holm([0.5, 0.001, NaN, 0.3]);
    expect(adjusted[1]).toBeCloseTo(0.003, 12);
    expect(adjusted[3]).toBeCloseTo(0.6, 12);
    expect(adjusted[0]).toBeCloseTo(0.6, 12);
    expect(adjusted[2]).toBeNaN();
    expect(holm([0.9, 0.8])).toEqual([1, 1]);
    expect(holm([0.04, 0.5])).toEqual([0.08, 0.5]);
  });
});

describe('two evaluations of the same samples', () => {
  test('the exact binomial path below 25 discordant samples', () => {
    expect(EXACT_BELOW).toBe(25);
    expect(binomialUpperTail(9, 10)).toBeCloseTo(11 / 1024, 15);
    expect(binomialUpperTail(0, 10)).toBe(1);
    expect(binomialUpperTail(11, 10)).toBe(0);
    const t = pairedProportionTest(9, 1, 1000, 'greater', 0.05);
    expect(t.method).toBe('exact');
    expect(t.pValue).toBeCloseTo(11 / 1024, 14); // P(X >= 9), X ~ Bin(10, 1/2)
    expect(t.significant).toBe(true);
    // 24 discordant: still exact; two-sided doubles the smaller tail.
    const two = pairedProportionTest(6, 18, 500, 'two-sided', 0.05);
    expect(two.method).toBe('exact');
    expect(two.pValue).toBeCloseTo(2 * binomialUpperTail(18, 24), 14);
    // One-sided in the other direction: sorted worse is no leak.
    expect(pairedProportionTest(1, 9, 1000, 'greater', 0.05).pValue).toBeCloseTo(binomialUpperTail(1, 10), 14);
    expect(pairedProportionTest(0, 0, 1000, 'greater', 0.05)).toMatchObject({ pValue: 1, significant: false, z: 0 });
  });

  test("McNemar's continuity-corrected z from 25 discordant samples on", () => {
    const t = pairedProportionTest(40, 20, 1000, 'greater', 0.001);
    expect(t.method).toBe('mcnemar');
    expect(t.z).toBeCloseTo(19 / Math.sqrt(60), 12);
    expect(t.pValue).toBeCloseTo(normalUpperTail(19 / Math.sqrt(60)), 12);
    const two = pairedProportionTest(20, 40, 1000, 'two-sided', 0.05);
    expect(two.z).toBeCloseTo(19 / Math.sqrt(60), 12);
    expect(two.pValue).toBeCloseTo(2 * normalUpperTail(19 / Math.sqrt(60)), 12);
  });

  test('the paired difference and its 95% interval: (b - c)/n ± 1.96 sqrt((b + c) - (b - c)^2/n) / n', () => {
    const [b, c, n] = [40, 20, 1000];
    const t = pairedProportionTest(b, c, n, 'greater', 0.001);
    const half = (1.959963984540054 * Math.sqrt(b + c - (b - c) ** 2 / n)) / n;
    expect(t.difference).toBeCloseTo(0.02, 15);
    expect(t.lower).toBeCloseTo(0.02 - half, 15);
    expect(t.upper).toBeCloseTo(0.02 + half, 15);
    expect(half).toBeCloseTo(0.015131, 6);
  });

  test("the minimum detectable difference solves Connor's formula at 80% power", () => {
    // n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2 at the returned d.
    const check = (n: number, psi: number, alpha: number, sides: 'greater' | 'two-sided') => {
      const d = minimumDetectableDifference(n, psi, alpha, sides);
      const za = normalQuantile(1 - (sides === 'greater' ? alpha : alpha / 2));
      const zb = normalQuantile(0.8);
      const p = Math.max(psi, d);
      expect((za * Math.sqrt(p) + zb * Math.sqrt(p - d * d)) ** 2 / (d * d)).toBeCloseTo(n, 3);
      return d;
    };
    const d = check(10000, 0.05, 0.001, 'greater');
    // About (z_a + z_b) sqrt(psi / n) when d^2 << psi.
    expect(d).toBeCloseTo((3.0902 + 0.8416) * Math.sqrt(0.05 / 10000), 3);
    check(1000, 0.2, 0.05, 'two-sided');
    // With no discordance observed it is still what the test could have seen (psi at least d), not 0.
    const none = check(10000, 0, 0.001, 'greater');
    expect(none).toBeGreaterThan(0.001);
    expect(none).toBeLessThan(0.002);
    // More samples, smaller detectable differences; the test reports its own.
    expect(minimumDetectableDifference(1000, 0.05, 0.001, 'greater')).toBeGreaterThan(d);
    expect(pairedProportionTest(260, 240, 10000, 'greater', 0.001).minimumDetectable).toBeCloseTo(
      minimumDetectableDifference(10000, 0.05, 0.001, 'greater'),
      12,
    );
    expect(minimumDetectableDifference(0, 0, 0.001, 'greater')).toBeNaN();
  });
});

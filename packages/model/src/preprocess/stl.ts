/**
 * Seasonal-trend decomposition by LOESS (Cleveland et al., 1990) with the defaults and numerics of
 * `statsmodels.tsa.seasonal.STL(x, period).fit()`: seasonal smoother 7, trend and low-pass lengths derived
 * from the period, degree-1 LOESS everywhere, jumps of 1, five inner iterations and no robustness
 * iterations (two inner and fifteen outer when `robust`). Written from the algorithm's description; indices below are 1-based in
 * comments where the paper's notation helps.
 */
export interface StlOptions {
  period: number;
  /** Seasonal smoother length (odd, >= 3). statsmodels default 7. */
  seasonal?: number;
  trend?: number;
  lowPass?: number;
  seasonalDegree?: 0 | 1;
  trendDegree?: 0 | 1;
  lowPassDegree?: 0 | 1;
  robust?: boolean;
  innerIterations?: number;
  outerIterations?: number;
}

export interface StlResult {
  trend: Float64Array;
  seasonal: Float64Array;
  residual: Float64Array;
}

interface ResolvedStl {
  period: number;
  seasonal: number;
  trend: number;
  lowPass: number;
  seasonalDegree: number;
  trendDegree: number;
  lowPassDegree: number;
  inner: number;
  outer: number;
}

const makeOdd = (n: number): number => (n % 2 === 0 ? n + 1 : n);

export function resolveStlOptions(options: StlOptions): ResolvedStl {
  const { period } = options;
  if (!Number.isInteger(period) || period < 2)
    throw new RangeError(`STL period ${period} must be an integer >= 2`);
  const seasonal = options.seasonal ?? 7;
  if (seasonal < 3 || seasonal % 2 === 0)
    throw new RangeError(`STL seasonal ${seasonal} must be odd and >= 3`);
  const trend = options.trend ?? makeOdd(Math.ceil((1.5 * period) / (1 - 1.5 / seasonal)));
  const lowPass = options.lowPass ?? makeOdd(period + 1);
  const robust = options.robust ?? false;
  return {
    period,
    seasonal,
    trend,
    lowPass,
    seasonalDegree: options.seasonalDegree ?? 1,
    trendDegree: options.trendDegree ?? 1,
    lowPassDegree: options.lowPassDegree ?? 1,
    // statsmodels swaps the Fortran defaults: 5 inner passes without robustness, 2 with it.
    inner: options.innerIterations ?? (robust ? 2 : 5),
    outer: options.outerIterations ?? (robust ? 15 : 0),
  };
}

export function stl(series: ArrayLike<number>, options: StlOptions): StlResult {
  const o = resolveStlOptions(options);
  const n = series.length;
  if (n < 2 * o.period)
    throw new RangeError(`STL needs at least two periods (${2 * o.period} samples), got ${n}`);
  const y = Float64Array.from(series);
  const trend = new Float64Array(n);
  const seasonal = new Float64Array(n);
  const robustness = new Float64Array(n).fill(1);
  let useRobustness = false;
  for (let pass = 0; ; pass++) {
    innerLoop(y, o, useRobustness, robustness, seasonal, trend);
    if (pass + 1 > o.outer) break;
    const fit = new Float64Array(n);
    for (let i = 0; i < n; i++) fit[i] = trend[i]! + seasonal[i]!;
    robustnessWeights(y, fit, robustness);
    useRobustness = true;
  }
  const residual = new Float64Array(n);
  for (let i = 0; i < n; i++) residual[i] = y[i]! - trend[i]! - seasonal[i]!;
  return { trend, seasonal, residual };
}

function innerLoop(
  y: Float64Array,
  o: ResolvedStl,
  useRobustness: boolean,
  robustness: Float64Array,
  seasonal: Float64Array,
  trend: Float64Array,
): void {
  const n = y.length;
  const np = o.period;
  const detrended = new Float64Array(n);
  for (let iteration = 0; iteration < o.inner; iteration++) {
    for (let i = 0; i < n; i++) detrended[i] = y[i]! - trend[i]!;
    const cycle = cycleSubseriesSmooth(detrended, o, useRobustness, robustness);
    const lowPassed = loess(lowPassFilter(cycle, np), o.lowPass, o.lowPassDegree, false, robustness);
    for (let i = 0; i < n; i++) seasonal[i] = cycle[np + i]! - lowPassed[i]!;
    const deseasonalised = new Float64Array(n);
    for (let i = 0; i < n; i++) deseasonalised[i] = y[i]! - seasonal[i]!;
    trend.set(loess(deseasonalised, o.trend, o.trendDegree, useRobustness, robustness));
  }
}

/** Smooths each cycle-subseries and extends it by one period at both ends: output length n + 2 * period. */
function cycleSubseriesSmooth(
  x: Float64Array,
  o: ResolvedStl,
  useRobustness: boolean,
  robustness: Float64Array,
): Float64Array {
  const n = x.length;
  const np = o.period;
  const out = new Float64Array(n + 2 * np);
  for (let j = 0; j < np; j++) {
    const k = Math.floor((n - j - 1) / np) + 1;
    const sub = new Float64Array(k);
    const subWeights = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      sub[i] = x[i * np + j]!;
      subWeights[i] = robustness[i * np + j]!;
    }
    const smoothed = new Float64Array(k + 2);
    smoothed.set(loess(sub, o.seasonal, o.seasonalDegree, useRobustness, subWeights), 1);
    const before = loessAt(
      sub,
      o.seasonal,
      o.seasonalDegree,
      0,
      1,
      Math.min(o.seasonal, k),
      useRobustness,
      subWeights,
    );
    smoothed[0] = before ?? smoothed[1]!;
    const after = loessAt(
      sub,
      o.seasonal,
      o.seasonalDegree,
      k + 1,
      Math.max(1, k - o.seasonal + 1),
      k,
      useRobustness,
      subWeights,
    );
    smoothed[k + 1] = after ?? smoothed[k]!;
    for (let m = 0; m < k + 2; m++) out[m * np + j] = smoothed[m]!;
  }
  return out;
}

/** Moving averages of lengths period, period and 3: input length n + 2 * period, output length n. */
function lowPassFilter(x: Float64Array, period: number): Float64Array {
  const first = movingAverage(x, period);
  const second = movingAverage(first, period);
  return movingAverage(second, 3);
}

function movingAverage(x: Float64Array, length: number): Float64Array {
  const outLength = x.length - length + 1;
  const out = new Float64Array(outLength);
  let sum = 0;
  for (let i = 0; i < length; i++) sum += x[i]!;
  out[0] = sum / length;
  for (let j = 1; j < outLength; j++) {
    sum = sum - x[j - 1]! + x[j + length - 1]!;
    out[j] = sum / length;
  }
  return out;
}

/** LOESS fitted at every point 1..n with a window of `span` points (jump 1). */
function loess(
  y: Float64Array,
  span: number,
  degree: number,
  useRobustness: boolean,
  robustness: Float64Array,
): Float64Array {
  const n = y.length;
  const out = new Float64Array(n);
  if (n < 2) {
    out[0] = y[0]!;
    return out;
  }
  let left = 1;
  let right = Math.min(span, n);
  const half = Math.floor((span + 1) / 2);
  for (let i = 1; i <= n; i++) {
    if (span < n && i > half && right !== n) {
      left++;
      right++;
    }
    out[i - 1] = loessAt(y, span, degree, i, left, right, useRobustness, robustness) ?? y[i - 1]!;
  }
  return out;
}

/**
 * Local (degree 0 or 1) weighted regression at position `xs` (1-based) over points left..right with
 * tricube weights; null when every weight vanishes.
 */
function loessAt(
  y: Float64Array,
  span: number,
  degree: number,
  xs: number,
  left: number,
  right: number,
  useRobustness: boolean,
  robustness: Float64Array,
): number | null {
  const n = y.length;
  const range = n - 1;
  let h = Math.max(xs - left, right - xs);
  if (span > n) h += Math.floor((span - n) / 2);
  const h9 = 0.999 * h;
  const h1 = 0.001 * h;
  const w = new Float64Array(right - left + 1);
  let total = 0;
  for (let j = left; j <= right; j++) {
    const r = Math.abs(j - xs);
    let weight = 0;
    if (r <= h9) {
      weight = r <= h1 ? 1 : (1 - (r / h) ** 3) ** 3;
      if (useRobustness) weight *= robustness[j - 1]!;
    }
    w[j - left] = weight;
    total += weight;
  }
  if (total <= 0) return null;
  for (let j = left; j <= right; j++) w[j - left] = w[j - left]! / total;
  if (h > 0 && degree > 0) {
    let mean = 0;
    for (let j = left; j <= right; j++) mean += w[j - left]! * j;
    let slope = xs - mean;
    let spread = 0;
    for (let j = left; j <= right; j++) spread += w[j - left]! * (j - mean) ** 2;
    if (Math.sqrt(spread) > 0.001 * range) {
      slope /= spread;
      for (let j = left; j <= right; j++) w[j - left] = w[j - left]! * (slope * (j - mean) + 1);
    }
  }
  let fitted = 0;
  for (let j = left; j <= right; j++) fitted += w[j - left]! * y[j - 1]!;
  return fitted;
}

/** Bisquare weights from residuals scaled by six times their median absolute value. */
function robustnessWeights(y: Float64Array, fit: Float64Array, out: Float64Array): void {
  const n = y.length;
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = Math.abs(y[i]! - fit[i]!);
  const sorted = Float64Array.from(residuals).sort();
  const mid1 = Math.floor(n / 2) + 1;
  const mid2 = n - mid1 + 1;
  const cmad = 3 * (sorted[mid1 - 1]! + sorted[mid2 - 1]!);
  const c9 = 0.999 * cmad;
  const c1 = 0.001 * cmad;
  for (let i = 0; i < n; i++) {
    const r = residuals[i]!;
    out[i] = r <= c1 ? 1 : r <= c9 ? (1 - (r / cmad) ** 2) ** 2 : 0;
  }
}

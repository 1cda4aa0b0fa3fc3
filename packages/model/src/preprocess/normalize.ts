/**
 * z-scores in float64 over finite samples only (population standard deviation, as numpy's default);
 * invalid (NaN) samples become 0, the normalised mean. A constant signal becomes all zeros rather than
 * dividing by zero, as ECG-FM's preprocessing does for flat leads.
 */
function finiteMoments(arrays: readonly ArrayLike<number>[]): { mean: number; std: number } {
  let count = 0;
  let sum = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (Number.isFinite(v)) {
        sum += v;
        count++;
      }
    }
  }
  const mean = count > 0 ? sum / count : 0;
  let squares = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (Number.isFinite(v)) squares += (v - mean) ** 2;
    }
  }
  return { mean, std: count > 0 ? Math.sqrt(squares / count) : 0 };
}

function applyZScore(a: ArrayLike<number>, mean: number, std: number): Float64Array {
  const out = new Float64Array(a.length);
  if (std === 0) return out;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    out[i] = Number.isFinite(v) ? (v - mean) / std : 0;
  }
  return out;
}

/**
 * One mean and deviation over all of `leads` together (the reference method's "whole record" z-score),
 * applied to the leads at `selected` only (all by default).
 */
export function zScoreJointly(
  leads: readonly ArrayLike<number>[],
  selected?: readonly number[],
): Float64Array[] {
  const { mean, std } = finiteMoments(leads);
  return (selected ?? leads.map((_, i) => i)).map((i) => applyZScore(leads[i]!, mean, std));
}

/** Each lead by its own mean and deviation. */
export function zScorePerLead(leads: readonly ArrayLike<number>[]): Float64Array[] {
  return leads.map((lead) => {
    const { mean, std } = finiteMoments([lead]);
    return applyZScore(lead, mean, std);
  });
}

/** Replaces NaN with 0 without normalising. */
export function finiteOrZero(leads: readonly ArrayLike<number>[]): Float64Array[] {
  return leads.map((lead) => Float64Array.from(lead, (v) => (Number.isFinite(v) ? v : 0)));
}

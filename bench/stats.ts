/** Order statistics the benchmarks report. */

/** The value at percentile `p` (0–100) of `sorted` (ascending): the nearest rank, rounded down. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** The median of `values` (any order); of an even count, the upper of the middle two. */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

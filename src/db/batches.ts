/** D1 takes at most 100 bound parameters a query; lookups of many values go in batches this size. */
export const LOOKUP_BATCH = 90;

/** The values of `values` that `lookup` finds, asked for LOOKUP_BATCH at a time. */
export async function foundIn(values: string[], lookup: (batch: string[]) => Promise<(string | null)[]>): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < values.length; i += LOOKUP_BATCH) {
    for (const v of await lookup(values.slice(i, i + LOOKUP_BATCH))) if (v !== null) found.add(v);
  }
  return found;
}

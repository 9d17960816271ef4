/**
 * The parameters of a statement built from optional parts (a list's filters): `add(value)` keeps the value and
 * returns its placeholder (`$1`, `$2`, …), so the text and `values` cannot disagree on the numbering.
 */
export function sqlParams(): { values: unknown[]; add(value: unknown): string } {
  const values: unknown[] = [];
  return { values, add: (value) => `$${values.push(value)}` };
}

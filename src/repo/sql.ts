/**
 * Collects bind values while a query is assembled: every value becomes a `$n` placeholder, so no
 * value is ever concatenated into SQL text. Identifiers come only from the server's own tables.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a bind value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  /** Adds several values and returns `$a, $b, ...` for an IN list. */
  list(values: readonly unknown[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }
}

/** Joins predicates with AND; the empty conjunction is TRUE. */
export function and(parts: string[]): string {
  const kept = parts.filter((p) => p !== 'TRUE');
  return kept.length === 0 ? 'TRUE' : kept.map((p) => `(${p})`).join(' AND ');
}

/** Joins predicates with OR; the empty disjunction is FALSE, and TRUE absorbs the rest. */
export function or(parts: string[]): string {
  if (parts.includes('TRUE')) {
    return 'TRUE';
  }
  return parts.length === 0 ? 'FALSE' : parts.map((p) => `(${p})`).join(' OR ');
}

/** Escapes LIKE wildcards so a user's `%` or `_` matches literally (used with ESCAPE '\'). */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Folds a string for default string search: accents removed, case-folded, whitespace collapsed,
 * so that `Bénédicte` and `benedicte` match (FHIR string search is accent- and case-insensitive).
 */
export function foldString(value: string): string {
  return value
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

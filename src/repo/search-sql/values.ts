import { FhirError } from '../../fhir/outcomes.js';

/** Splits a search value on commas not escaped with a backslash (comma = OR), unescaping `\,` `\|` `\$` `\\`. */
export function splitOr(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      cur += value[i + 1] === ',' ? ',' : c + value[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

/** Reads the value of `:missing` (true/false), or fails with a clear 400. */
export function missingFlag(code: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') {
    throw new FhirError('INVALID_SEARCH_VALUE', `${code}:missing takes true or false, not "${value}"`, [code]);
  }
  return value === 'true';
}

/** The 400 for a modifier or prefix a parameter type does not support. */
export function unsupportedModifier(code: string, modifier: string): FhirError {
  return new FhirError('UNSUPPORTED_SEARCH_FEATURE', `Modifier or prefix "${modifier}" is not supported on parameter "${code}"`, [code]);
}

/** Identifies one parameter's index rows for the resource whose id is the SQL expression idExpr. */
export interface IndexScope {
  readonly resourceType: string;
  readonly idExpr: string;
  readonly code: string;
}

/**
 * INS matricule (NIR / NIA) format and check key, dmp-domain.md §1.2. Pure functions.
 *
 * Layout of the 15 characters: sex (1) · year (2) · month (2) · place (5) · order (3) · key (2).
 * The place starts with the department, which is `2A` / `2B` for Corsica.
 */
import { INS_SYSTEMS } from './identifiers.js';

const INS_LENGTH = 15;
const KEY_MODULUS = 97n;

/** First 13 characters: digits, except `2A`/`2B` at positions 6-7 (1-based). */
const FIRST13_PATTERN = /^\d{5}(?:\d{2}|2A|2B)\d{6}$/;
const INS_PATTERN = /^\d{5}(?:\d{2}|2A|2B)\d{8}$/;

/** Corsican departments are replaced by these digits before computing the key. */
const CORSICA_DIGITS: Readonly<Record<string, string>> = { '2A': '19', '2B': '18' };

export type InsValidation =
  | { ok: true }
  | { ok: false; reason: 'length' | 'format' | 'key'; message: string };

/** Check key of a 13-character NIR/NIA: 97 − (N mod 97), as 2 digits. Throws on a malformed input. */
export function computeInsKey(first13: string): string {
  if (!FIRST13_PATTERN.test(first13)) {
    throw new RangeError(`INS body must be 13 characters (digits, 2A/2B at positions 6-7): "${first13}"`);
  }
  const key = KEY_MODULUS - (BigInt(toNumericBody(first13)) % KEY_MODULUS);
  return key.toString().padStart(2, '0');
}

/** Validates a 15-character INS matricule (length, then characters, then the key). */
export function validateIns(value: string): InsValidation {
  if (value.length !== INS_LENGTH) {
    return { ok: false, reason: 'length', message: `INS must be ${INS_LENGTH} characters, got ${value.length}` };
  }
  if (!INS_PATTERN.test(value)) {
    return {
      ok: false,
      reason: 'format',
      message: 'INS must be digits only, except 2A or 2B (Corsica) at positions 6-7',
    };
  }
  const expected = computeInsKey(value.slice(0, 13));
  const actual = value.slice(13);
  if (expected !== actual) {
    return { ok: false, reason: 'key', message: `INS check key is ${actual}, expected ${expected}` };
  }
  return { ok: true };
}

/** True for the four INS identifier systems (NIR, NIA, test NIR, demo NIR). */
export function isInsSystem(system: string): boolean {
  return INS_SYSTEMS.includes(system);
}

/**
 * Builds a well-formed INS with its key from its parts, for fictitious test patients.
 * `place5` is department + commune (e.g. `75114`, `2A004`, `97105`, or `99` + country code).
 */
export function makeTestIns(sex: 1 | 2, yy: string, mm: string, place5: string, order3: string): string {
  requirePart('sex', String(sex), /^[12]$/);
  requirePart('yy', yy, /^\d{2}$/);
  requirePart('mm', mm, /^\d{2}$/);
  requirePart('place5', place5, /^(?:\d{2}|2A|2B)\d{3}$/);
  requirePart('order3', order3, /^\d{3}$/);
  const first13 = `${sex}${yy}${mm}${place5}${order3}`;
  return first13 + computeInsKey(first13);
}

function toNumericBody(first13: string): string {
  const department = first13.slice(5, 7);
  const digits = CORSICA_DIGITS[department];
  return digits === undefined ? first13 : first13.slice(0, 5) + digits + first13.slice(7);
}

function requirePart(name: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value)) {
    throw new RangeError(`makeTestIns: invalid ${name} "${value}"`);
  }
}

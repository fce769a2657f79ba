/**
 * The life-cycle state of a DMP on its Patient (dmp-domain.md §4.3, §6.1 TD0.2): `active` and the
 * closure extension `dmp-fermeture` (sub-extensions `dateFermeture`, `motifFermeture`,
 * `raisonFermeture`). A closed DMP is archived for the retention period, then purged; an opposition
 * to creation is recorded the same way (reason `opposition-creation`) and is never purged.
 * Pure functions.
 */
import type { Coding, Extension, Patient } from '@medplum/fhirtypes';
import { DMP_CLOSURE_EXTENSION_URL, DMP_CLOSURE_REASON_SYSTEM, DMP_CLOSURE_REASONS } from './identifiers.js';

/** R.1111-34: a closed DMP is archived ten years. */
export const DEFAULT_RETENTION_YEARS = 10;

export interface Closure {
  /** ISO 8601 instant the DMP was closed. */
  readonly date: string;
  readonly reason: Coding;
  /** Free text (`raisonFermeture`). */
  readonly text?: string;
}

/** The closure recorded on the Patient, if any. */
export function closureOf(patient: Patient): Closure | undefined {
  const ext = patient.extension?.find((e) => e.url === DMP_CLOSURE_EXTENSION_URL);
  if (!ext) return undefined;
  const part = (url: string): Extension | undefined => ext.extension?.find((e) => e.url === url);
  const date = part('dateFermeture');
  return {
    date: date?.valueDateTime ?? date?.valueDate ?? '',
    reason: part('motifFermeture')?.valueCoding ?? {},
    ...(part('raisonFermeture')?.valueString ? { text: part('raisonFermeture')?.valueString } : {}),
  };
}

/** The Patient closed now for this reason: `active` false and the closure extension (replacing any older one). */
export function withClosure(patient: Patient, closure: Closure): Patient {
  const extension: Extension = {
    url: DMP_CLOSURE_EXTENSION_URL,
    extension: [
      { url: 'dateFermeture', valueDateTime: closure.date },
      { url: 'motifFermeture', valueCoding: closure.reason },
      ...(closure.text ? [{ url: 'raisonFermeture', valueString: closure.text }] : []),
    ],
  };
  return { ...patient, active: false, extension: [...otherExtensions(patient), extension] };
}

/** The Patient reopened: `active` true, no closure extension. */
export function withoutClosure(patient: Patient): Patient {
  const extension = otherExtensions(patient);
  const { extension: _old, ...rest } = patient;
  return { ...rest, active: true, ...(extension.length > 0 ? { extension } : {}) };
}

function otherExtensions(patient: Patient): Extension[] {
  return (patient.extension ?? []).filter((e) => e.url !== DMP_CLOSURE_EXTENSION_URL);
}

/** A closure reason coding of the server's CodeSystem. */
export function closureReason(code: string): Coding {
  return { system: DMP_CLOSURE_REASON_SYSTEM, code };
}

/** The closure reasons a caller may give to `$close` (an opposition is recorded at creation, not by closing). */
export const CLOSE_REASON_CODES: readonly string[] = [DMP_CLOSURE_REASONS.PATIENT_REQUEST, DMP_CLOSURE_REASONS.DEATH];

/** True for the record of an opposition to the DMP's creation (no DMP: nothing to read, never purged). */
export function isCreationOpposition(patient: Patient): boolean {
  return patient.active === false && closureOf(patient)?.reason.code === DMP_CLOSURE_REASONS.CREATION_OPPOSED;
}

/** When the retention of a DMP closed at `closedAt` ends (calendar years, UTC). */
export function retentionEnd(closedAt: string, years: number): Date {
  const end = new Date(closedAt);
  end.setUTCFullYear(end.getUTCFullYear() + years);
  return end;
}

/**
 * The SQL of the DMP usage indicators (`$pilotage`): counts over the stored versions (first versions
 * of Patients and DocumentReferences) and over the audit trail (AuditEvents written by audit-event.ts:
 * the professional is the agent whose `who` is a Practitioner reference, with their IdNat_PS as
 * identifier; their structure an agent identified in STRUCTURE_ID_SYSTEM). Only counts and the
 * professionals' and structures' ids leave this module: never a patient id.
 */
import { STRUCTURE_ID_SYSTEM } from '../audit/audit-event.js';
import { currentTable, historyTable } from '../fhir/resource-types.js';
import type { Queryable } from './pool.js';
import { SqlParams } from './sql.js';

/** A half-open period [from, to) of server time. */
export interface PilotagePeriod {
  readonly from: Date;
  readonly to: Date;
}

export interface TypeCount {
  readonly system?: string;
  readonly code?: string;
  readonly count: number;
}

/** Accesses (one AuditEvent per request and record) of one professional or structure, and the distinct records they touched. */
export interface ActorCount {
  readonly id: string;
  /** A professional's IdNat_PS (`8` + RPPS), when the trace has it. */
  readonly nationalId?: string;
  readonly events: number;
  readonly records: number;
}

export interface AccessCounts {
  readonly events: number;
  readonly records: number;
  readonly byProfessional: readonly ActorCount[];
  readonly byStructure: readonly ActorCount[];
}

/** Interactions that read a record: what a "consultation" is in the audit trail. */
const CONSULTING = ['read', 'vread', 'search-type', 'history-instance', 'history-type', '$everything'];

function inPeriod(q: SqlParams, column: string, period: PilotagePeriod): string {
  return `${column} >= ${q.add(period.from.toISOString())}::timestamptz AND ${column} < ${q.add(period.to.toISOString())}::timestamptz`;
}

/** DMPs opened in the period: Patients whose first version was written then. */
export async function dmpsCreated(db: Queryable, period: PilotagePeriod): Promise<number> {
  const q = new SqlParams();
  const { rows } = await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${historyTable('Patient')} h WHERE h.version_id = 1 AND ${inPeriod(q, 'h.last_updated', period)}`, q.values);
  return Number(rows[0].n);
}

/** DMPs fed in the period: distinct records with a DocumentReference first written then. */
export async function dmpsFed(db: Queryable, period: PilotagePeriod): Promise<number> {
  const q = new SqlParams();
  const { rows } = await db.query<{ n: string | number }>(
    `SELECT count(DISTINCT h.patient_id) AS n FROM ${historyTable('DocumentReference')} h
      WHERE h.version_id = 1 AND h.patient_id IS NOT NULL AND ${inPeriod(q, 'h.last_updated', period)}`,
    q.values
  );
  return Number(rows[0].n);
}

/** Documents deposited in the period, by their type (first coding of `DocumentReference.type`, as deposited). */
export async function documentsByType(db: Queryable, period: PilotagePeriod): Promise<TypeCount[]> {
  const q = new SqlParams();
  const { rows } = await db.query<{ system: string | null; code: string | null; n: string | number }>(
    `SELECT h.content->'type'->'coding'->0->>'system' AS system, h.content->'type'->'coding'->0->>'code' AS code, count(*) AS n
       FROM ${historyTable('DocumentReference')} h
      WHERE h.version_id = 1 AND ${inPeriod(q, 'h.last_updated', period)}
      GROUP BY 1, 2 ORDER BY n DESC, code`,
    q.values
  );
  return rows.map((r) => ({ ...(r.system ? { system: r.system } : {}), ...(r.code ? { code: r.code } : {}), count: Number(r.n) }));
}

/** Successful consultations of a record by professionals in the period (reads, searches, histories, $everything). */
export function consultations(db: Queryable, period: PilotagePeriod): Promise<AccessCounts> {
  return professionalAccesses(db, period, (q) => `e.content->'subtype'->0->>'code' IN (${q.list(CONSULTING)})`);
}

/** Successful deposits of a DocumentReference by professionals in the period (one create each). */
export function feeds(db: Queryable, period: PilotagePeriod): Promise<AccessCounts> {
  return professionalAccesses(
    db,
    period,
    (q) => `e.content->'subtype'->0->>'code' = ${q.add('create')}
      AND EXISTS (SELECT 1 FROM jsonb_array_elements(e.content->'entity') x WHERE x->'what'->>'reference' LIKE ${q.add('DocumentReference/%')})`
  );
}

/**
 * The professionals' successful accesses to records in the period that `kind` selects, in total, per
 * professional and per structure. Events without a Practitioner agent (patients, system clients) are left out.
 */
async function professionalAccesses(db: Queryable, period: PilotagePeriod, kind: (q: SqlParams) => string): Promise<AccessCounts> {
  const q = new SqlParams();
  const events = `SELECT e.id, e.patient_id, e.content FROM ${currentTable('AuditEvent')} e
     WHERE e.deleted = false AND e.patient_id IS NOT NULL AND e.content->>'outcome' = ${q.add('0')}
       AND ${inPeriod(q, 'e.last_updated', period)} AND ${kind(q)}
       AND EXISTS (SELECT 1 FROM jsonb_array_elements(e.content->'agent') p WHERE p->'who'->>'reference' LIKE ${q.add('Practitioner/%')})`;
  const { rows } = await db.query<{ part: string; id: string | null; national_id: string | null; events: string | number; records: string | number }>(
    `WITH ev AS (${events})
     SELECT 'total' AS part, NULL AS id, NULL AS national_id, count(*) AS events, count(DISTINCT ev.patient_id) AS records FROM ev
     UNION ALL
     SELECT 'professional', substring(a->'who'->>'reference' from 14), max(a->'who'->'identifier'->>'value'), count(DISTINCT ev.id), count(DISTINCT ev.patient_id)
       FROM ev, jsonb_array_elements(ev.content->'agent') a WHERE a->'who'->>'reference' LIKE ${q.add('Practitioner/%')} GROUP BY 2
     UNION ALL
     SELECT 'structure', a->'who'->'identifier'->>'value', NULL, count(DISTINCT ev.id), count(DISTINCT ev.patient_id)
       FROM ev, jsonb_array_elements(ev.content->'agent') a WHERE a->'who'->'identifier'->>'system' = ${q.add(STRUCTURE_ID_SYSTEM)} GROUP BY 2`,
    q.values
  );
  const total = rows.find((r) => r.part === 'total');
  const actors = (part: string): ActorCount[] =>
    rows
      .filter((r) => r.part === part && r.id)
      .map((r) => ({ id: r.id as string, ...(r.national_id ? { nationalId: r.national_id } : {}), events: Number(r.events), records: Number(r.records) }))
      .sort((a, b) => b.events - a.events || a.id.localeCompare(b.id));
  return { events: Number(total?.events ?? 0), records: Number(total?.records ?? 0), byProfessional: actors('professional'), byStructure: actors('structure') };
}

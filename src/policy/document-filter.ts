/**
 * The DocumentReference rules of a search as SQL (issue 4: "the policy as a SQL predicate", so paging
 * and `total` count only readable documents). Translates `readableDocumentConstraints(...)` into a
 * predicate over a DocumentReference row alias, using the search index tables:
 * - type:           sp_token code `type` (DocumentReference.type codings);
 * - visibility:     sp_token code `security-label`, TRE_A07 system only (VISIBILITY_SYSTEM);
 * - author:         sp_reference code `author`, target Practitioner, or a PractitionerRole whose
 *                   `practitioner` is that Practitioner (sp_reference of the role, code `practitioner`);
 * - deposit:        the time of the document's first version (its history table), the start of the
 *                   INVISIBLE_PATIENT delay.
 * Every value is a bind parameter. `documentMatchesConstraints` (decide.ts) is the reference: the
 * integration test document-filter.test.ts checks that both select the same documents.
 *
 * Type codings: like `documentFacts` (facts.ts), the coding of a matrix system (LOINC, TRE_A05) is the
 * document's type and codings of other systems (translations) are ignored; without one, the coded
 * coding is. Where facts.ts has to pick one of several candidates (two LOINC / TRE_A05 codings, or
 * several coded codings and none of those systems), the SQL is stricter: every candidate must be
 * allowed, so a search never lists a document the read path would hide. DMP documents have one typeCode.
 *
 * Not covered (the SQL is stricter than `documentFactsFromDb`): authors given only by identifier
 * (IDNPS / RPPS, no literal reference) do not get the author exception in searches.
 */
import { VISIBILITY_SYSTEM } from '../dmp/identifiers.js';
import { currentTable, historyTable } from '../fhir/resource-types.js';
import { and, or, type SqlParams } from '../repo/sql.js';
import type { DocumentConstraints } from './decide.js';
import { MATRIX_SOURCE_SYSTEMS, type TypeCoding } from './habilitation-matrix.js';
import { securityFilterFromSql, type SecurityFilter } from './search-filter.js';

const DOCUMENT_TYPE = 'DocumentReference';

/** `Binary.securityContext` as `[...]/DocumentReference/{id}[/_history/n]`: captures the id. */
export const DOCUMENT_CONTEXT_RE = '(?:^|/)DocumentReference/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]*)?$';

/**
 * SQL predicate over the DocumentReference row `alias` that holds exactly for the documents
 * `documentMatchesConstraints(doc, constraints)` accepts. `none` → FALSE.
 */
export function documentConstraintSql(q: SqlParams, alias: string, constraints: DocumentConstraints): string {
  if (constraints.none) {
    return 'FALSE';
  }
  const idExpr = `${alias}.id`;
  const rules = and([
    typeAllowed(q, idExpr, constraints.allowedTypes),
    noneOfLabels(q, idExpr, constraints.hiddenLabels),
    constraints.visibleAfter ? visibleAfter(q, idExpr, constraints.visibleAfter) : 'TRUE',
  ]);
  // Build the author branch only when it can change the result: an unused bind value fails the query.
  if (constraints.exceptAuthorId === undefined || rules === 'TRUE') {
    return rules;
  }
  return or([authoredBy(q, idExpr, constraints.exceptAuthorId), rules]);
}

/**
 * The security filter of a DocumentReference search in one patient's DMP: the patient's rows
 * (`patient_id`), narrowed by the document constraints of the principal in that DMP.
 */
export function documentSecurityFilter(resourceType: 'DocumentReference', patientId: string, constraints: DocumentConstraints): SecurityFilter {
  return securityFilterFromSql(resourceType, (q, alias) => {
    if (constraints.none) {
      return 'FALSE';
    }
    const own = `${alias}.patient_id = ${q.add(patientId)}`;
    return and([own, documentConstraintSql(q, alias, constraints)]);
  });
}

/**
 * SQL predicate over the AuditEvent row `alias`: the trace names (`entity`) a live DocumentReference,
 * or a Binary of one, that the constraints hide. A trace is as secret as the document it names: the
 * patient does not learn from their access log that a document hidden from them exists.
 */
export function namesHiddenDocumentSql(q: SqlParams, alias: string, constraints: DocumentConstraints): string {
  const doc = 'named_doc';
  const readable = documentConstraintSql(q, doc, constraints);
  if (readable === 'TRUE') {
    return 'FALSE';
  }
  const hidden = `${doc}.deleted = false AND NOT (${readable})`;
  const named = (targetType: string): string =>
    `SELECT 1 FROM sp_reference e WHERE e.res_type = ${q.add('AuditEvent')} AND e.res_id = ${alias}.id AND e.code = ${q.add('entity')} AND e.target_type = ${q.add(targetType)}`;
  const documents = currentTable('DocumentReference');
  const direct = `EXISTS (${named('DocumentReference')} AND EXISTS (SELECT 1 FROM ${documents} ${doc} WHERE ${doc}.id = e.target_id AND ${hidden}))`;
  const linked = `${doc}.id = substring(b.content->'securityContext'->>'reference' from ${q.add(DOCUMENT_CONTEXT_RE)})`;
  const viaBinary = `EXISTS (${named('Binary')} AND EXISTS (SELECT 1 FROM ${currentTable('Binary')} b JOIN ${documents} ${doc} ON ${linked} WHERE b.id = e.target_id AND ${hidden}))`;
  return or([direct, viaBinary]);
}

/** Index rows of one parameter of the document `idExpr`, aliased `as`. */
function indexRows(q: SqlParams, table: 'sp_token' | 'sp_reference' | 'sp_date', as: string, idExpr: string, code: string, resType = DOCUMENT_TYPE): string {
  return `FROM ${table} ${as} WHERE ${as}.res_type = ${q.add(resType)} AND ${as}.res_id = ${idExpr} AND ${as}.code = ${q.add(code)}`;
}

/**
 * Matrix: an allowed coding (a coding without a system matches on its code, as
 * documentMatchesConstraints does), no forbidden coding of a matrix system, and, when the type has no
 * coding of a matrix system, no forbidden coded coding at all.
 */
function typeAllowed(q: SqlParams, idExpr: string, allowedTypes: readonly TypeCoding[] | undefined): string {
  if (allowedTypes === undefined) {
    return 'TRUE';
  }
  if (allowedTypes.length === 0) {
    return 'FALSE';
  }
  const allowedCoding = (): string => {
    const bySystem = new Map<string, string[]>();
    for (const t of allowedTypes) {
      bySystem.set(t.system, [...(bySystem.get(t.system) ?? []), t.code]);
    }
    return or([...bySystem].map(([system, codes]) => `t.value IN (${q.list(codes)}) AND (t.system IS NULL OR t.system = ${q.add(system)})`));
  };
  const codings = (): string => `SELECT 1 ${indexRows(q, 'sp_token', 't', idExpr, 'type')} AND t.value IS NOT NULL`;
  const matrixSystem = (): string => `t.system IN (${q.list(MATRIX_SOURCE_SYSTEMS)})`;
  return and([
    `EXISTS (${codings()} AND (${allowedCoding()}))`,
    `NOT EXISTS (${codings()} AND ${matrixSystem()} AND NOT (${allowedCoding()}))`,
    `EXISTS (${codings()} AND ${matrixSystem()}) OR NOT EXISTS (${codings()} AND NOT (${allowedCoding()}))`,
  ]);
}

/** Visibility: none of these TRE_A07 labels. */
function noneOfLabels(q: SqlParams, idExpr: string, labels: readonly string[]): string {
  if (labels.length === 0) {
    return 'TRUE';
  }
  return `NOT EXISTS (SELECT 1 ${indexRows(q, 'sp_token', 'l', idExpr, 'security-label')} AND l.system = ${q.add(VISIBILITY_SYSTEM)} AND l.value IN (${q.list(labels)}))`;
}

/**
 * The label hides the document only while its deposit (first version) is after `depositedAtOrBefore`:
 * without the label, or deposited at or before that instant, it passes.
 */
function visibleAfter(q: SqlParams, idExpr: string, rule: NonNullable<Extract<DocumentConstraints, { none: false }>['visibleAfter']>): string {
  const labelled = `EXISTS (SELECT 1 ${indexRows(q, 'sp_token', 'l', idExpr, 'security-label')} AND l.system = ${q.add(VISIBILITY_SYSTEM)} AND l.value = ${q.add(rule.label)})`;
  const old = `EXISTS (SELECT 1 FROM ${historyTable(DOCUMENT_TYPE)} d WHERE d.id = ${idExpr} AND d.version_id = 1 AND d.last_updated <= ${q.add(rule.depositedAtOrBefore)}::timestamptz)`;
  return `NOT ${labelled} OR ${old}`;
}

/**
 * Rule 7: the document names this Practitioner among its authors, directly or through a live
 * PractitionerRole of theirs (a deleted role has no index rows).
 */
function authoredBy(q: SqlParams, idExpr: string, practitionerId: string): string {
  const direct = `a.target_type = ${q.add('Practitioner')} AND a.target_id = ${q.add(practitionerId)}`;
  const role = `a.target_type = ${q.add('PractitionerRole')} AND EXISTS (SELECT 1 ${indexRows(q, 'sp_reference', 'p', 'a.target_id', 'practitioner', 'PractitionerRole')} AND p.target_type = ${q.add('Practitioner')} AND p.target_id = ${q.add(practitionerId)})`;
  return `EXISTS (SELECT 1 ${indexRows(q, 'sp_reference', 'a', idExpr, 'author')} AND ((${direct}) OR (${role})))`;
}

import { FhirError } from '../fhir/outcomes.js';
import { currentTable, type SupportedType } from '../fhir/resource-types.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { and } from '../repo/sql.js';
import { DOCUMENT_CONTEXT_RE } from './document-filter.js';
import { combineFilters, dmpFilterForPatients, dmpRulesApply, type DmpPolicy, type FactsCache } from './dmp-gate.js';
import type { Principal } from './principal.js';
import { searchFilterFor, securityFilterFromSql, type SecurityFilter } from './search-filter.js';

/** The types of a patient's record that `Patient/{id}/$everything` returns, in the order it returns them. */
export const EVERYTHING_TYPES = ['Patient', 'DocumentReference', 'Binary', 'List', 'Consent', 'RelatedPerson', 'AuditEvent'] as const satisfies readonly SupportedType[];

export type EverythingType = (typeof EVERYTHING_TYPES)[number];

export function isEverythingType(type: string): type is EverythingType {
  return (EVERYTHING_TYPES as readonly string[]).includes(type);
}

/**
 * What the caller may see of each type in one patient's record, for `$everything`: the scope filter
 * of a search of that type, the record itself (`patient_id`), and the DMP rules of a search of that
 * type by this patient (dmpFilterForPatients), so the result is what searches `?patient=` would show.
 * A type whose search the rules refuse to the caller in this record (the insurer's consents or
 * lists) is left out of the map. Binaries have no search of their own (dmp-gate refuses them): here
 * they come through their DocumentReference (`securityContext`), which must pass the document filter.
 *
 * The record-level refusal (403 with the reason) is the caller's to raise first (assertDmpAccess on
 * the Patient): past it, every type's gate agrees for professionals and patients.
 */
export async function everythingFilters(
  principal: Principal,
  repo: ResourceRepo,
  policy: DmpPolicy | undefined,
  patientId: string,
  types: readonly EverythingType[]
): Promise<Map<EverythingType, SecurityFilter>> {
  const factsCache: FactsCache = new Map();
  const rulesOf = async (type: SupportedType): Promise<{ refused: boolean; filter?: SecurityFilter }> => {
    if (!policy || !dmpRulesApply(principal)) {
      return { refused: false };
    }
    try {
      return { refused: false, filter: await dmpFilterForPatients(principal, repo, policy, type, [patientId], true, factsCache) };
    } catch (err) {
      if (err instanceof FhirError && (err.status === 403 || err.status === 404)) {
        return { refused: true };
      }
      throw err;
    }
  };
  const out = new Map<EverythingType, SecurityFilter>();
  for (const type of types) {
    const rules = await rulesOf(type === 'Binary' ? 'DocumentReference' : type);
    if (rules.refused) {
      continue;
    }
    const scope = searchFilterFor(principal, type, type === 'Binary' ? 'r' : 's');
    const dmp = type === 'Binary' ? binariesOfDocuments(rules.filter) : rules.filter;
    out.set(type, combineFilters(scope, combineFilters(inRecord(type, patientId), dmp)));
  }
  return out;
}

/** The rows of one patient's record (the `patient_id` every row of a record type carries). */
function inRecord(type: SupportedType, patientId: string): SecurityFilter {
  return securityFilterFromSql(type, (q, alias) => `${alias}.patient_id = ${q.add(patientId)}`);
}

/**
 * Binaries whose `securityContext` is a live DocumentReference passing `documents` (the caller's
 * document filter in this record); undefined when no DMP rule applies (the operator: its scopes decide).
 */
function binariesOfDocuments(documents: SecurityFilter | undefined): SecurityFilter | undefined {
  if (!documents) {
    return undefined;
  }
  const doc = 'everything_doc';
  return securityFilterFromSql('Binary', (q, alias) => {
    const linked = `${doc}.id = substring(${alias}.content->'securityContext'->>'reference' from ${q.add(DOCUMENT_CONTEXT_RE)})`;
    return `EXISTS (SELECT 1 FROM ${currentTable('DocumentReference')} ${doc} WHERE ${and([`${doc}.deleted = false`, linked, documents.toSql(q, doc)])})`;
  });
}

/**
 * The records a patient user may act on (DMP rule 8): their own, and those of the minors they are,
 * now, the legal representative of (a RelatedPerson of the minor carrying the user's INS, with a
 * parental or guardian relationship, in force; the minor under 18). Used by the standalone login
 * to offer a choice of record, and to check that choice.
 */
import type { Patient, RelatedPerson } from '@medplum/fhirtypes';
import { INS_SYSTEMS } from '../dmp/identifiers.js';
import { parseSearch } from '../fhir/search/request.js';
import { parseReference } from '../fhir/references.js';
import { loadPatientFacts } from '../policy/facts.js';
import { INTERNAL } from '../policy/principal.js';
import { searchFilterFor } from '../policy/search-filter.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { runSearch } from '../repo/search.js';

/** A patient user as the login resolved them: their own record and their fhirUser reference. */
export interface PatientUser {
  readonly patientId: string;
  readonly fhirUser: string;
}

/** Whether the user is, now, a legal representative of the minor whose record `patientId` is. */
export async function representsMinor(repo: ResourceRepo, user: PatientUser, patientId: string): Promise<boolean> {
  const facts = await loadPatientFacts(repo, patientId, new Date());
  const representatives = facts?.legalRepresentativeIds ?? [];
  return facts?.isMinor === true && (representatives.includes(user.patientId) || representatives.includes(user.fhirUser));
}

/** The minors' records the user represents now (ids), found through RelatedPersons carrying their INS. */
export async function representedMinors(repo: ResourceRepo, user: PatientUser): Promise<string[]> {
  const own = (await repo.read('Patient', user.patientId))?.resource as Patient | undefined;
  const tokens = (own?.identifier ?? []).filter((i) => i.system && INS_SYSTEMS.includes(i.system) && i.value).map((i) => `${i.system}|${i.value}`);
  if (tokens.length === 0) return [];
  const search = parseSearch('RelatedPerson', { identifier: [tokens.join(',')] }, { lenient: false, defaultCount: 50, maxCount: 50 });
  const page = await runSearch(repo.queryable, { ...search.query, total: false }, (t) => searchFilterFor(INTERNAL, t));
  const candidates = new Set(
    (page.matches as RelatedPerson[]).map((rp) => parseReference(rp.patient?.reference ?? '')).filter((r) => r?.type === 'Patient').map((r) => r?.id as string)
  );
  const minors: string[] = [];
  for (const id of candidates) {
    if (id !== user.patientId && (await representsMinor(repo, user, id))) minors.push(id);
  }
  return minors.sort();
}

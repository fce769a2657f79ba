/**
 * TD0.2 "check DMP & access" (dmp-domain.md §4.3, §6.1) as FHIR: `GET Patient?identifier=<INS>`
 * answers the Patient (0 entries: no DMP; `active` and the closure extension: its state) and, in the
 * searchset's OperationOutcome entry (search.mode = outcome), one informational issue per DMP found
 * saying its state and, for a professional, whether they are authorised and whether they are its
 * médecin traitant. Each issue carries machine-readable codes (DMP_STATUS_SYSTEM) next to its text.
 */
import type { Coding, OperationOutcome, OperationOutcomeIssue, Patient, Resource } from '@medplum/fhirtypes';
import type { Filter } from '@medplum/core';
import { closureOf, isCreationOpposition } from '../../dmp/closure.js';
import { isInsSystem } from '../../dmp/ins.js';
import { loadPatientFacts } from '../../policy/facts.js';
import { openingConsentDecision, type PatientFacts } from '../../policy/decide.js';
import type { Principal } from '../../policy/principal.js';
import type { ResourceRepo } from '../../repo/resource-repo.js';

export const DMP_STATUS_SYSTEM = 'https://dmp-fhir-server.org/fhir/CodeSystem/dmp-status';

const status = (code: string, display: string): Coding => ({ system: DMP_STATUS_SYSTEM, code, display });

/** True for a Patient search naming an INS (`identifier=<INS system>|<value>`): the TD0.2 question. */
export function isDmpStatusQuestion(filters: readonly Filter[]): boolean {
  return filters.some(
    (f) =>
      f.code === 'identifier' &&
      f.value.split(',').some((v) => {
        const [system, value] = v.split('|');
        return value !== undefined && value !== '' && isInsSystem(system ?? '');
      })
  );
}

/** The TD0.2 answer for the Patients a search returned, or undefined when it found none. */
export async function dmpStatusOutcome(repo: ResourceRepo, principal: Principal, matches: readonly Resource[]): Promise<OperationOutcome | undefined> {
  const issues: OperationOutcomeIssue[] = [];
  for (const patient of matches.filter((r): r is Patient => r.resourceType === 'Patient')) {
    const codes = [stateOf(patient)];
    if (principal.kind === 'practitioner') {
      const facts = await loadPatientFacts(repo, patient.id ?? '', new Date());
      if (facts) codes.push(...professionalStatus(principal.professional.practitionerId, principal, facts));
    }
    issues.push({
      severity: 'information',
      code: 'informational',
      details: { coding: codes, text: `Patient/${patient.id}: ${codes.map((c) => c.display).join('; ')}` },
      expression: [`Patient.where(id = '${patient.id}')`],
    });
  }
  return issues.length > 0 ? { resourceType: 'OperationOutcome', issue: issues } : undefined;
}

function stateOf(patient: Patient): Coding {
  if (isCreationOpposition(patient)) return status('creation-opposed', `pas de DMP : le titulaire s'est opposé à sa création (${closureOf(patient)?.date ?? ''})`);
  if (patient.active === false) {
    const closure = closureOf(patient);
    return status('closed', `DMP fermé le ${closure?.date ?? '?'} (motif ${closure?.reason.code ?? 'inconnu'})`);
  }
  return status('open', 'DMP ouvert');
}

function professionalStatus(practitionerId: string, principal: Extract<Principal, { kind: 'practitioner' }>, facts: PatientFacts): Coding[] {
  const blocked = facts.blocked.practitionerIds.includes(practitionerId) || (principal.professional.structure !== undefined && facts.blocked.organizationIds.includes(principal.professional.structure));
  const authorised = !blocked && openingConsentDecision(principal.professional, facts).allow;
  return [
    blocked ? status('blocked', 'vous êtes bloqué par le patient') : authorised ? status('authorised', 'autorisation valide') : status('not-authorised', "pas d'autorisation du patient"),
    facts.medecinTraitantIds.includes(practitionerId) ? status('medecin-traitant', 'vous êtes le médecin traitant DMP') : status('not-medecin-traitant', "vous n'êtes pas le médecin traitant DMP"),
  ];
}

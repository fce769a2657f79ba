/**
 * One DMP per INS (issue 5): before a Patient is written, no other live Patient may carry one of its
 * active INS identifiers. Runs inside the write's transaction and holds an advisory lock per INS, so
 * two concurrent creations of the same INS cannot both pass.
 */
import type { Patient } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { patientsByIdentifier } from '../repo/patient-lookup.js';
import { closureOf, isCreationOpposition } from './closure.js';
import { insKeys } from './patient-ins.js';

export async function assertInsFree(repo: ResourceRepo, patient: Patient, selfId?: string): Promise<void> {
  if (!repo.inTransaction) {
    throw new Error('assertInsFree runs inside the write transaction');
  }
  const keys = insKeys(patient).sort();
  for (const key of keys) {
    await repo.lockKey(`ins:${key}`);
  }
  for (const key of keys) {
    const others = (await patientsByIdentifier(repo, key, 2)).filter((id) => id !== selfId);
    if (others.length === 0) continue;
    const other = (await repo.read('Patient', others[0]))?.resource as Patient | undefined;
    if (other && isCreationOpposition(other)) {
      throw new FhirError(
        'DMP_CREATION_OPPOSED',
        `The holder of INS ${key} opposed the creation of their DMP (recorded ${closureOf(other)?.date ?? ''}); it can only be created once they ask for it (POST Patient/${others[0]}/$reopen)`,
        ['Patient.identifier']
      );
    }
    throw new FhirError(
      'DMP_ALREADY_EXISTS',
      `A DMP already exists for INS ${key} (Patient/${others[0]}); there is one DMP per INS (a conditional create with If-None-Exist: identifier=${key} returns it)`,
      ['Patient.identifier']
    );
  }
}

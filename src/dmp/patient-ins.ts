import type { OperationOutcomeIssue, Patient } from '@medplum/fhirtypes';
import { isInsSystem, validateIns } from './ins.js';

/**
 * The INS identifiers of a Patient must be valid matricules (15 characters, Corsica 2A/2B rule,
 * key = 97 − (N mod 97)): one issue per invalid one, pointing at its value.
 */
export function insIssues(patient: Patient): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  (patient.identifier ?? []).forEach((identifier, i) => {
    if (!identifier.system || !isInsSystem(identifier.system) || identifier.value === undefined) {
      return;
    }
    const result = validateIns(identifier.value);
    if (!result.ok) {
      issues.push({
        severity: 'error',
        code: 'business-rule',
        details: { text: `Invalid INS (${identifier.system}): ${result.message}` },
        expression: [`Patient.identifier[${i}].value`],
      });
    }
  });
  return issues;
}

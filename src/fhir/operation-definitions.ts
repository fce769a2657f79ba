/**
 * The OperationDefinitions of this server's own operations, served read-only at
 * `/fhir/OperationDefinition/{id}` so that the definitions the CapabilityStatement names can be read
 * (FHIR's own, such as Patient-everything, are HL7's). Their inputs and outputs are those the
 * handlers take and give.
 */
import type { OperationDefinition, OperationDefinitionParameter } from '@medplum/fhirtypes';

export const OPERATION_DEFINITION_BASE = 'https://dmp-fhir-server.org/fhir/OperationDefinition/';

const input = (name: string, type: string, min: number, documentation: string): OperationDefinitionParameter => ({ name, use: 'in', min, max: '1', type: type as OperationDefinitionParameter['type'], documentation });
const output = (name: string, type: string, documentation: string, min = 1): OperationDefinitionParameter => ({ name, use: 'out', min, max: '1', type: type as OperationDefinitionParameter['type'], documentation });

function definition(code: string, title: string, description: string, where: { resource?: string[]; system?: boolean; instance?: boolean; affectsState: boolean }, parameter: OperationDefinitionParameter[]): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: code,
    url: `${OPERATION_DEFINITION_BASE}${code}`,
    version: '0.1.0',
    name: code.replace(/(^|-)([a-z])/g, (_m, _d: string, c: string) => c.toUpperCase()),
    title,
    status: 'active',
    kind: 'operation',
    description,
    affectsState: where.affectsState,
    code,
    ...(where.resource ? { resource: where.resource } : {}),
    system: where.system ?? false,
    type: false,
    instance: where.instance ?? false,
    parameter,
  } as OperationDefinition;
}

const closeReason = input('reason', 'code', 0, 'Closure reason, https://interop.esante.gouv.fr/ig/fhir/dmp/CodeSystem/dmp-motif-fermeture: patient-demande (default) or deces');

export const SERVER_OPERATION_DEFINITIONS: readonly OperationDefinition[] = [
  definition(
    'verify-audit',
    'Check the hash chain of a DMP audit trail',
    'Recomputes the SHA-256 chain of the AuditEvents of the patient and says whether it is intact and where it broke. For the patient or their legal representative (and the host operator client); professionals are refused.',
    { resource: ['Patient'], instance: true, affectsState: false },
    [
      output('valid', 'boolean', 'True when every link of the chain holds'),
      output('count', 'integer', 'Number of AuditEvents in the chain'),
      output('brokenAt', 'integer', 'Position of the first broken link', 0),
      output('problem', 'string', 'What is wrong at that link', 0),
    ]
  ),
  definition(
    'close',
    'Close a DMP',
    'The DMP becomes read-only: active = false and the dmp-fermeture extension (date, reason, comment); professionals lose access; it is archived for DMP_RETENTION_YEARS, then purged. By the patient or their legal representative, or a professional the patient authorised, on their request. 409 when already closed.',
    { resource: ['Patient'], instance: true, affectsState: true },
    [closeReason, input('comment', 'string', 0, 'Free text (raisonFermeture)'), output('return', 'Patient', 'The closed Patient')]
  ),
  definition(
    'reopen',
    'Reopen a DMP',
    'A closed DMP within its retention period (or a recorded opposition to creation) becomes active again. By the patient or their legal representative. 409 when open or when the retention has ended.',
    { resource: ['Patient'], instance: true, affectsState: true },
    [output('return', 'Patient', 'The reopened Patient')]
  ),
  definition(
    'destroy',
    'Destroy a DMP',
    'On the patient\'s request, the record is erased at once (every version of every resource of its compartment); its AuditEvents stay. By the patient or their legal representative.',
    { resource: ['Patient'], instance: true, affectsState: true },
    [output('return', 'OperationOutcome', 'What was erased')]
  ),
  definition(
    'pilotage',
    'DMP usage indicators',
    'The DMP usage indicators over a period, without any patient data: DMPs created, fed and consulted, documents by type, feeds and consultations per professional and per structure. System clients holding system/MeasureReport.r (or .rs) only.',
    { system: true, affectsState: false },
    [
      input('period-start', 'date', 1, 'First day (Europe/Paris) or instant with a zone, inclusive'),
      input('period-end', 'date', 1, 'Last day (Europe/Paris) or instant with a zone, inclusive'),
      output('return', 'MeasureReport', 'A summary MeasureReport, one group per indicator'),
    ]
  ),
];

/** The definition served under this id, if any. */
export function serverOperationDefinition(id: string): OperationDefinition | undefined {
  return SERVER_OPERATION_DEFINITIONS.find((d) => d.id === id);
}

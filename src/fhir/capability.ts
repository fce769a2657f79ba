import fs from 'node:fs';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { RESOURCE_TYPES, SERVER_WRITTEN_TYPES, type SupportedType } from './resource-types.js';
import { paramDefs } from './search/parameters.js';
import { PROFILE_URLS } from './validate.js';
import type { Route } from './router.js';

const BASE_FILE = new URL('../../capability/capability-base.json', import.meta.url);

const WRITE_INTERACTIONS = new Set(['create', 'update', 'delete']);

/**
 * The CapabilityStatement, generated from capability/capability-base.json plus the route table
 * and the search parameter table, so it lists exactly what the server answers.
 */
export function buildCapabilityStatement(routes: readonly Route[], date: string): CapabilityStatement {
  const base = JSON.parse(fs.readFileSync(BASE_FILE, 'utf8')) as CapabilityStatement;
  const rest = base.rest?.[0] ?? { mode: 'server' };
  const typeRoutes = routes.filter((r) => r.level !== 'system');
  rest.resource = [...RESOURCE_TYPES.map((type) => resourceEntry(type, typeRoutes)), MATRIX_ENTRY, OPERATION_DEFINITION_ENTRY];
  // One system route serves both Bundle types.
  rest.interaction = routes.some((r) => r.level === 'system' && r.interaction === 'transaction')
    ? [{ code: 'transaction' }, { code: 'batch' }]
    : [];
  const systemOperations = SYSTEM_OPERATIONS.filter((op) => routes.some((r) => r.level === 'system' && r.interaction === `$${op.name}`));
  if (systemOperations.length > 0) {
    rest.operation = systemOperations;
  }
  return { ...base, date, rest: [rest] };
}

function resourceEntry(type: SupportedType, routes: readonly Route[]): CapabilityStatementRestResource {
  const serverWritten = SERVER_WRITTEN_TYPES.includes(type);
  const served = routes.filter((r) => !r.types || r.types.includes(type));
  const codes = [...new Set(served.map((r) => r.interaction))].filter(
    (code) => !code.startsWith('$') && !(serverWritten && WRITE_INTERACTIONS.has(code))
  );
  const refParams = paramDefs(type).filter((d) => d.type === 'reference');
  return {
    type,
    ...(PROFILE_URLS[type] ? { profile: PROFILE_URLS[type] } : {}),
    interaction: codes.map((code) => ({ code: code as 'read' })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: !serverWritten,
    conditionalCreate: !serverWritten,
    conditionalRead: 'not-match',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchInclude: refParams.map((d) => `${type}:${d.code}`),
    searchRevInclude: revIncludesOf(type),
    searchParam: [
      { name: '_id', type: 'token' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
      { name: '_lastUpdated', type: 'date' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
      ...paramDefs(type).map((d) => ({ name: d.code, type: d.type, definition: d.definition.url })),
    ],
    operation: [
      ...(routes.some((r) => r.interaction === '$validate') && !serverWritten
        ? [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }]
        : []),
      ...(type === 'Patient'
        ? PATIENT_OPERATIONS.filter((name) => routes.some((r) => r.interaction === `$${name}`)).map((name) => ({
            name,
            definition: OPERATION_DEFINITIONS[name] ?? `https://dmp-fhir-server.org/fhir/OperationDefinition/${name}`,
          }))
        : []),
    ],
  };
}

/** The operations on a DMP's Patient: the server's own (audit chain, life cycle) and FHIR's $everything. */
const PATIENT_OPERATIONS = ['verify-audit', 'close', 'reopen', 'destroy', 'everything'] as const;

/** Operations defined by FHIR itself (the others are this server's). */
const OPERATION_DEFINITIONS: Partial<Record<string, string>> = {
  everything: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
};

/** System-level operations: the DMP usage indicators (a MeasureReport, for system clients with `system/MeasureReport.r`). */
const SYSTEM_OPERATIONS = [
  {
    name: 'pilotage',
    definition: 'https://dmp-fhir-server.org/fhir/OperationDefinition/pilotage',
    documentation: 'DMP usage indicators over a period (period-start, period-end): a MeasureReport without any patient data; system clients holding system/MeasureReport.r (or .rs) only.',
  },
];

/** The definitions of the server's own operations, read-only (src/fhir/operation-definitions.ts). */
const OPERATION_DEFINITION_ENTRY: CapabilityStatementRestResource = {
  type: 'OperationDefinition',
  interaction: [{ code: 'read' }],
  versioning: 'no-version',
  readHistory: false,
  updateCreate: false,
  conditionalDelete: 'not-supported',
  searchParam: [],
  documentation: "Read-only: the definitions of this server's operations (verify-audit, close, reopen, destroy, pilotage).",
};

/** The habilitation matrix: one read-only ConceptMap, served outside the stored types. */
const MATRIX_ENTRY: CapabilityStatementRestResource = {
  type: 'ConceptMap',
  interaction: [{ code: 'read' }],
  versioning: 'versioned',
  readHistory: false,
  updateCreate: false,
  conditionalRead: 'not-match',
  conditionalUpdate: false,
  conditionalDelete: 'not-supported',
  searchParam: [],
  documentation: 'Read-only: ConceptMap/dmp-habilitation-matrix, the habilitation matrix the DMP access rules apply (HABILITATION_MATRIX_FILE).',
};

/** `_revinclude` values other types offer toward this one. */
function revIncludesOf(type: SupportedType): string[] {
  return RESOURCE_TYPES.flatMap((other) =>
    paramDefs(other)
      .filter((d) => d.type === 'reference' && (d.targets.length === 0 || d.targets.includes(type)))
      .map((d) => `${other}:${d.code}`)
  );
}

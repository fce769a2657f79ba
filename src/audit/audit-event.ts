import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import { isAuthenticated, type Principal } from '../policy/principal.js';
import { PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../dmp/identifiers.js';

/** Where the chain hash and its sequence number live on each AuditEvent. */
export const CHAIN_HASH_URL = 'https://dmp-fhir-server.org/fhir/StructureDefinition/audit-chain-hash';
export const CHAIN_SEQ_URL = 'https://dmp-fhir-server.org/fhir/StructureDefinition/audit-chain-seq';
/** TRE_R248 access modes (normal, bris_de_glace, centre_15). */
export const ACCESS_MODE_SYSTEM = 'urn:oid:1.2.250.1.213.1.1.4.248';
export const ACCESS_REASON_SYSTEM = 'https://dmp-fhir-server.org/fhir/CodeSystem/dmp-access-reason';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';

/** One interaction to trace (IHE BALP shape), allowed or denied. */
export interface AuditInput {
  /** FHIR interaction (read, vread, search-type, create, update, delete, history-*, transaction) or an operation. */
  readonly interaction: string;
  readonly principal: Principal;
  /** The patient whose record was touched (one AuditEvent per patient). */
  readonly patientId?: string;
  /** Resources touched, as `Type/id`. */
  readonly entities: readonly string[];
  readonly outcome: { readonly success: true } | { readonly success: false; readonly reason: string; readonly text: string; readonly serious?: boolean };
  readonly requestId: string;
  /** Raw query string of a search (stored base64, as BALP does). */
  readonly query?: string;
  readonly recorded: Date;
}

const ACTIONS: Record<string, AuditEvent['action']> = {
  create: 'C',
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  update: 'U',
  patch: 'U',
  delete: 'D',
};

/** Builds the AuditEvent of one interaction for one patient (IHE BALP: Read / Query / Create / Update / Delete). */
export function buildAuditEvent(input: AuditInput, server: { name: string; clientSystem: string }): AuditEvent {
  const entity: AuditEventEntity[] = [];
  if (input.patientId) {
    entity.push({
      what: { reference: `Patient/${input.patientId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  for (const ref of input.entities) {
    entity.push({
      what: { reference: ref },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
    });
  }
  if (input.query) {
    entity.push({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
      query: Buffer.from(input.query, 'utf8').toString('base64'),
    });
  }
  entity.push({
    what: { identifier: { system: 'urn:ietf:rfc:3986', value: `urn:x-request-id:${input.requestId}` } },
    type: { system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', code: 'XrequestId', display: 'X-Request-Id' },
  });
  const failure = input.outcome.success ? undefined : input.outcome;
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: RESTFUL_INTERACTION, code: input.interaction }],
    action: ACTIONS[input.interaction] ?? 'E',
    recorded: input.recorded.toISOString(),
    outcome: failure ? (failure.serious ? '8' : '4') : '0',
    ...(failure ? { outcomeDesc: `${failure.reason}: ${failure.text}` } : {}),
    agent: agentsOf(input.principal, server.clientSystem),
    source: {
      observer: { display: server.name },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity,
  };
}

function agentsOf(principal: Principal, clientSystem: string): AuditEventAgent[] {
  if (!isAuthenticated(principal)) {
    return [{ who: { display: principal.kind === 'internal' ? 'server (internal)' : 'anonymous' }, requestor: true }];
  }
  const token = principal.token;
  const client: AuditEventAgent = {
    type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
    who: { identifier: { system: clientSystem, value: token.clientId }, display: token.clientId },
    requestor: principal.kind === 'system',
  };
  if (principal.kind === 'system') {
    return [client];
  }
  const emergency = token.accessMode !== 'normal';
  const purpose = {
    coding: [
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: emergency ? 'ETREAT' : 'TREAT' },
      { system: ACCESS_MODE_SYSTEM, code: token.accessMode },
    ],
    ...(token.accessReason ? { text: token.accessReason } : {}),
  };
  const role: { coding: Coding[] }[] = [];
  if (principal.kind === 'practitioner') {
    const p = principal.professional;
    if (p.profession) role.push({ coding: [{ system: PROFESSION_SYSTEM, code: p.profession }] });
    if (p.speciality) role.push({ coding: [{ system: SPECIALITY_SYSTEM, code: p.speciality }] });
  }
  const who =
    principal.kind === 'practitioner'
      ? { reference: `Practitioner/${principal.professional.practitionerId}`, identifier: { system: 'urn:oid:1.2.250.1.71.4.2.1', value: principal.professional.nationalId } }
      : { reference: `Patient/${principal.patientId}` };
  const user: AuditEventAgent = {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
    who,
    requestor: true,
    ...(role.length ? { role } : {}),
    purposeOfUse: [purpose],
  };
  const structure = principal.kind === 'practitioner' ? principal.professional.structure : undefined;
  return structure ? [user, client, structureAgent(structure)] : [user, client];
}

/** The structure id a professional's token names (PSC activity); `$pilotage` counts accesses per structure. */
export const STRUCTURE_ID_SYSTEM = 'https://dmp-fhir-server.org/fhir/sid/structure';

/** The structure the professional acted for, as one more agent (R4 AuditEvent has no element for it). */
function structureAgent(structure: string): AuditEventAgent {
  return {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV', display: 'healthcare provider' }] },
    who: { identifier: { system: STRUCTURE_ID_SYSTEM, value: structure } },
    requestor: false,
  };
}

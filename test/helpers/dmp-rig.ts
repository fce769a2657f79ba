/**
 * Helpers for the HTTP tests of the DMP access rules (issue 4) on the SMART rig: real logins at the
 * rig's upstream provider, real tokens, data created with the rig's system token (setup only).
 */
import { expect } from 'chai';
import type { AuditEvent, Binary, Bundle, Consent, ConsentProvision, ConsentProvisionActor, DocumentReference, OperationOutcome, Patient, Practitioner, Reference, RelatedPerson, Resource } from '@medplum/fhirtypes';

/** Whom a Consent provision names. */
export type ActorRef = ConsentProvisionActor['reference'];
import type { DemoUser } from '../../src/auth/demo-idp/users.js';
import {
  ACCESS_MODE_SYSTEM,
  ACT_REASON_SYSTEM,
  DOC_TYPE_COMPLEMENTARY_SYSTEM,
  FR_CORE_IDENTIFIER_TYPE_SYSTEM,
  IDNPS_SYSTEM,
  LOINC_SYSTEM,
  V3_ROLE_CODE_SYSTEM,
  VISIBILITY_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { ACCESS_REASON_SYSTEM } from '../../src/policy/reasons.js';
import { randomTestIns, testPatient, unique } from './fhir.js';
import { CRUD_TEST_SYSTEM } from './resources.js';
import { createLaunch, loginForToken, rigCreate, rigFetch, rigSystemToken, type SmartRig } from './smart-flow.js';
import { insPatient, pscProfessional } from './upstream-idp.js';

export type Visibility = 'MASQUE_PS' | 'INVISIBLE_PATIENT' | 'INVISIBLE_REPRESENTANTS_LEGAUX';

/** LOINC 11488-4 (consultation note: every profession of the matrix reads it). */
export const CONSULT_NOTE = '11488-4';
/** LOINC 68599-0 (psychiatric synthesis: médecins only, not nurses). */
export const PSYCHIATRIC_SYNTHESIS = '68599-0';

/** Answer body parsed, after checking the status (the body is shown on failure). */
export async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, `${res.url}: ${text.slice(0, 800)}`).to.equal(status);
  return JSON.parse(text) as T;
}

/** The DMP access-reason codes an OperationOutcome carries. */
export function reasonCodes(outcome: OperationOutcome): string[] {
  return outcome.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === ACCESS_REASON_SYSTEM).map((c) => c.code as string);
}

/** Asserts a patient-level refusal: 403 with an OperationOutcome carrying `reason`. */
export async function expectRefused(res: Response, reason: string): Promise<OperationOutcome> {
  const outcome = await json<OperationOutcome>(res, 403);
  expect(outcome.resourceType).to.equal('OperationOutcome');
  expect(reasonCodes(outcome), JSON.stringify(outcome)).to.include(reason);
  return outcome;
}

/** Asserts a document-level refusal: 404 as if absent. */
export async function expectAbsent(res: Response): Promise<void> {
  const outcome = await json<OperationOutcome>(res, 404);
  expect(outcome.resourceType).to.equal('OperationOutcome');
  expect(reasonCodes(outcome), 'a hidden document does not say why').to.deep.equal([]);
}

/** The ids of the resources of a type in a Bundle (optionally of one search mode). */
export function idsIn(bundle: Bundle, type: string, mode?: 'match' | 'include'): string[] {
  return (bundle.entry ?? []).filter((e) => e.resource?.resourceType === type && (!mode || e.search?.mode === mode)).map((e) => e.resource?.id as string);
}

/** A Practitioner created up front with the professional's IDNPS (login then finds it by that identifier). */
export async function practitionerFor(rig: SmartRig, user: DemoUser): Promise<string> {
  const practitioner = await rigCreate<Practitioner>(rig, {
    resourceType: 'Practitioner',
    active: true,
    identifier: [
      {
        use: 'official',
        type: { coding: [{ system: FR_CORE_IDENTIFIER_TYPE_SYSTEM, code: 'IDNPS' }] },
        system: IDNPS_SYSTEM,
        value: user.claims.SubjectNameID as string,
      },
    ],
    name: [{ family: user.claims.family_name as string, given: [user.claims.given_name as string] }],
  });
  return practitioner.id;
}

/** A professional of the rig's provider, with their Practitioner already created (its id known). */
export interface RigProfessional {
  readonly user: DemoUser;
  readonly practitionerId: string;
  readonly nationalId: string;
}

export async function professional(rig: SmartRig, opts: Parameters<typeof pscProfessional>[0] = {}): Promise<RigProfessional> {
  const user = rig.idp.addUser(pscProfessional(opts));
  return { user, practitionerId: await practitionerFor(rig, user), nationalId: user.claims.SubjectNameID as string };
}

/** A Patient created with the system token, NOT listed in `rig.patients` (so no authorisation is recorded for it). */
export async function dmpPatient(rig: SmartRig, overrides: Partial<Patient> = {}): Promise<Patient & { id: string; ins: string }> {
  const ins = randomTestIns();
  const patient = await rigCreate(rig, testPatient({ identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: ins }], ...overrides }));
  return { ...patient, ins };
}

/** The patient's own login at the provider (INS claim). */
export function patientUser(rig: SmartRig, patient: { ins: string }): DemoUser {
  return rig.idp.addUser(insPatient('urn:oid:1.2.250.1.213.1.4.10', patient.ins));
}

/** A RelatedPerson making `representative` (by INS) the legal representative (mother) of `minor`. */
export async function legalRepresentative(rig: SmartRig, minorId: string, representative: { ins: string }): Promise<RelatedPerson & { id: string }> {
  return rigCreate<RelatedPerson>(rig, {
    resourceType: 'RelatedPerson',
    active: true,
    identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: representative.ins }],
    patient: { reference: `Patient/${minorId}` },
    relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'MTH', display: 'mother' }] }],
    name: [{ family: unique('Parent'), given: ['Anne'] }],
    gender: 'female',
  });
}

const IRCP = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] };

/** A Consent of the patient (one root provision), as facts.ts reads them. */
export function consent(patientId: string, provision: ConsentProvision, policy: 'OPTIN' | 'OPTOUT' = provision.type === 'deny' ? 'OPTOUT' : 'OPTIN'): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: LOINC_SYSTEM, code: '59284-0' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: new Date().toISOString(),
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: policy }] },
    provision,
  };
}

export const actor = (reference: ActorRef): ConsentProvisionActor => ({ role: IRCP, reference });
export const TREAT = { system: ACT_REASON_SYSTEM, code: 'TREAT' };
export const ETREAT = { system: ACT_REASON_SYSTEM, code: 'ETREAT' };

/** Rule 1: the patient authorises a professional (or a structure, by identifier), optionally for a period. */
export function authorisation(patientId: string, who: ActorRef, period?: { start?: string; end?: string }): Consent {
  return consent(patientId, { type: 'permit', ...(period ? { period } : {}), actor: [actor(who)], purpose: [TREAT] });
}

/** Rule 2: the patient blocks a professional. */
export function block(patientId: string, who: ActorRef): Consent {
  return consent(patientId, { type: 'deny', actor: [actor(who)] });
}

/** Rule 6: the patient opposes an emergency access mode. */
export function emergencyOpposition(patientId: string, mode: 'bris_de_glace' | 'centre_15'): Consent {
  return consent(patientId, { type: 'deny', purpose: [ETREAT], code: [{ coding: [{ system: ACCESS_MODE_SYSTEM, code: mode }] }] });
}

/** Rule 5: the médecin traitant's extended rights for another professional (also an authorisation). */
export function extendedRights(patientId: string, who: ActorRef): Consent {
  return consent(patientId, { type: 'permit', actor: [actor(who)], purpose: [TREAT], securityLabel: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }] });
}

export const practitionerRef = (id: string): Reference<Practitioner> => ({ reference: `Practitioner/${id}` });

/** A DocumentReference of the patient with a LOINC type, visibility labels, author, deposit date. */
export function documentOf(
  patientId: string,
  opts: { type?: string; typeSystem?: string; labels?: readonly Visibility[]; authorId?: string; author?: NonNullable<DocumentReference['author']>[number]; date?: string; title?: string } = {}
): DocumentReference {
  const author = opts.author ?? (opts.authorId ? practitionerRef(opts.authorId) : undefined);
  return {
    resourceType: 'DocumentReference',
    identifier: [{ system: CRUD_TEST_SYSTEM, value: unique('doc') }],
    status: 'current',
    type: { coding: [{ system: opts.typeSystem ?? (opts.type?.startsWith('DOCPAT') ? DOC_TYPE_COMPLEMENTARY_SYSTEM : LOINC_SYSTEM), code: opts.type ?? CONSULT_NOTE }] },
    subject: { reference: `Patient/${patientId}` },
    date: opts.date ?? new Date().toISOString(),
    ...(author ? { author: [author] } : {}),
    ...(opts.labels && opts.labels.length > 0 ? { securityLabel: opts.labels.map((code) => ({ coding: [{ system: VISIBILITY_SYSTEM, code }] })) } : {}),
    content: [{ attachment: { contentType: 'application/pdf', title: opts.title ?? 'note.pdf' } }],
  };
}

/** The Binary of a document (its securityContext), with recognisable bytes. */
export async function binaryOf(rig: SmartRig, documentId: string, text: string): Promise<Binary & { id: string }> {
  return rigCreate<Binary>(rig, {
    resourceType: 'Binary',
    contentType: 'application/pdf',
    securityContext: { reference: `DocumentReference/${documentId}` },
    data: Buffer.from(text, 'utf8').toString('base64'),
  });
}

/** PUT with the system token (setup: a change the test is not about). */
export async function rigUpdate<T extends Resource & { id?: string }>(rig: SmartRig, resource: T): Promise<T> {
  return json<T>(await rigFetch(rig, `${resource.resourceType}/${resource.id}`, await rigSystemToken(rig), { method: 'PUT', body: JSON.stringify(resource) }), 200);
}

/**
 * A professional's token with the patient in context (EHR launch made by the backend), `patient/*.rs`
 * and `user/*.cruds` unless asked; `accessMode` / `accessReason` for the emergency modes.
 */
export async function professionalToken(
  rig: SmartRig,
  pro: { user: DemoUser },
  patientId: string,
  opts: { scope?: string; accessMode?: 'bris_de_glace' | 'centre_15'; accessReason?: string } = {}
): Promise<string> {
  const client = rig.clients.publicApp;
  const launch = await createLaunch(rig, patientId, client.clientId);
  const token = await loginForToken(
    rig,
    {
      client,
      scope: `launch openid fhirUser ${opts.scope ?? 'patient/*.cruds user/*.cruds'}`,
      launch,
      ...(opts.accessMode ? { accessMode: opts.accessMode, accessReason: opts.accessReason ?? 'Urgence vitale' } : {}),
    },
    pro.user
  );
  return token.access_token;
}

/** A patient user's token on their own record (`patient/*.cruds`). */
export async function patientToken(rig: SmartRig, user: DemoUser): Promise<string> {
  const token = await loginForToken(rig, { scope: 'openid fhirUser launch/patient patient/*.cruds' }, user);
  return token.access_token;
}

/** A legal representative's token on the minor's record (launch on the minor, login with their own INS). */
export async function representativeToken(rig: SmartRig, user: DemoUser, minorId: string): Promise<string> {
  const client = rig.clients.publicApp;
  const launch = await createLaunch(rig, minorId, client.clientId);
  const token = await loginForToken(rig, { client, scope: 'launch openid fhirUser patient/*.cruds', launch }, user);
  expect(token.patient).to.equal(minorId);
  return token.access_token;
}

/** The AuditEvents of a patient written for one request (X-Request-Id), read with the system token. */
export async function auditEventsOf(rig: SmartRig, patientId: string, requestId: string): Promise<AuditEvent[]> {
  const bundle = await json<Bundle<AuditEvent>>(
    await rigFetch(rig, `AuditEvent?patient=${patientId}&_sort=-date&_count=100`, await rigSystemToken(rig)),
    200
  );
  return (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.entity?.some((en) => en.what?.identifier?.value === `urn:x-request-id:${requestId}`));
}

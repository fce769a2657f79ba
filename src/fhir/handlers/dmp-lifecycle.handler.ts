/**
 * The DMP life cycle on its Patient (issue 5; dmp-domain.md §4.3):
 * - `POST Patient/{id}/$close`: the DMP becomes read-only (`active` false + closure extension with
 *   date, reason, optional text); professionals lose access; it is archived for the retention period.
 * - `POST Patient/{id}/$reopen`: during the retention period, the patient reopens it (and a person who
 *   had opposed its creation asks for it after all).
 * - `POST Patient/{id}/$destroy`: on the patient's request, the record is erased at once, except the
 *   audit trail of who accessed it.
 * The caller must first be able to read the record; state conflicts are 409; who may act is decided
 * by the DMP rules (close, reopen, destroy).
 */
import type { Parameters, ParametersParameter, Patient, Resource } from '@medplum/fhirtypes';
import { CLOSE_REASON_CODES, closureOf, closureReason, isCreationOpposition, retentionEnd, withClosure, withoutClosure } from '../../dmp/closure.js';
import { DMP_CLOSURE_REASON_SYSTEM, DMP_CLOSURE_REASONS } from '../../dmp/identifiers.js';
import { purgeRecord } from '../../dmp/purge.js';
import { assertReadable } from '../../policy/access.js';
import type { PolicyAction } from '../../policy/decide.js';
import { assertDmpAccess } from '../../policy/dmp-gate.js';
import { requireScope } from '../../policy/scope-gate.js';
import { FhirError, informational } from '../outcomes.js';
import type { SupportedType } from '../resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';
import { resourceResponse } from './crud.handler.js';

type LifecycleOperation = '$close' | '$reopen' | '$destroy';

/** The record the operation is about, once the caller is known to be able to read it. */
async function recordFor(ctx: HandlerContext, type: SupportedType, id: string, operation: LifecycleOperation, scope: 'u' | 'd'): Promise<Patient> {
  if (type !== 'Patient') {
    throw new FhirError('UNKNOWN_ROUTE', `${operation} is defined on Patient only`);
  }
  requireScope(ctx.principal, 'Patient', scope);
  const stored = await ctx.repo.read('Patient', id);
  if (!stored?.resource || stored.deleted) {
    throw new FhirError('NOT_FOUND', `Patient/${id} does not exist`);
  }
  await assertReadable(ctx.principal, ctx.repo, 'Patient', id);
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, 'Patient', stored.resource as Resource, 'read');
  return stored.resource as Patient;
}

async function decideOn(ctx: HandlerContext, patient: Patient, action: PolicyAction): Promise<void> {
  await assertDmpAccess(ctx.principal, ctx.repo, ctx.policy, 'Patient', patient, action);
}

/** `$close` with Parameters `reason` (code of dmp-motif-fermeture: patient-demande, deces) and optional `comment`. */
export async function closeHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  const input = parametersOf(req.body, '$close');
  const patient = await recordFor(ctx, type, id, '$close', 'u');
  const reason = codeParameter(input, 'reason') ?? DMP_CLOSURE_REASONS.PATIENT_REQUEST;
  if (!CLOSE_REASON_CODES.includes(reason)) {
    throw new FhirError('BAD_REQUEST', `$close reason "${reason}" is not one of ${CLOSE_REASON_CODES.join(', ')} (${DMP_CLOSURE_REASON_SYSTEM})`, ['Parameters.parameter[reason]']);
  }
  if (patient.active === false) {
    throw new FhirError('DMP_STATE_CONFLICT', `The DMP Patient/${id} is already closed (since ${closureOf(patient)?.date ?? 'an unknown date'})`);
  }
  await decideOn(ctx, patient, 'close');
  const comment = stringParameter(input, 'comment');
  const closed = withClosure(patient, { date: new Date().toISOString(), reason: closureReason(reason), ...(comment ? { text: comment } : {}) });
  return resourceResponse((await ctx.repo.update('Patient', id, closed)).resource, 200);
}

/** `$reopen`: a closed DMP within its retention period (or an opposition to creation) becomes active again. */
export async function reopenHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  parametersOf(req.body, '$reopen');
  const patient = await recordFor(ctx, type, id, '$reopen', 'u');
  if (patient.active !== false) {
    throw new FhirError('DMP_STATE_CONFLICT', `The DMP Patient/${id} is open: there is nothing to reopen`);
  }
  const closure = closureOf(patient);
  const years = ctx.policy?.retentionYears;
  if (closure && years !== undefined && !isCreationOpposition(patient) && retentionEnd(closure.date, years).getTime() <= Date.now()) {
    throw new FhirError('DMP_RETENTION_EXPIRED', `The DMP Patient/${id} was closed on ${closure.date}: its ${years}-year retention has ended, it can no longer be reopened`);
  }
  await decideOn(ctx, patient, 'reopen');
  return resourceResponse((await ctx.repo.update('Patient', id, withoutClosure(patient))).resource, 200);
}

/** `$destroy`: the record is erased now; its AuditEvents stay. */
export async function destroyHandler(ctx: HandlerContext, req: FhirRequest, type: SupportedType, id: string): Promise<FhirResponse> {
  parametersOf(req.body, '$destroy');
  const patient = await recordFor(ctx, type, id, '$destroy', 'd');
  await decideOn(ctx, patient, 'destroy');
  const erased = await purgeRecord(ctx.repo, id);
  return {
    status: 200,
    resource: informational(`The DMP Patient/${id} was destroyed (${erased} resources erased); the audit trail of who accessed it is kept`),
    touched: [{ ref: `Patient/${id}`, patientId: id }],
  };
}

/** The operation's input: no body, or a Parameters resource. */
function parametersOf(body: unknown, operation: LifecycleOperation): Parameters {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) {
    return { resourceType: 'Parameters' };
  }
  if (typeof body !== 'object' || (body as Resource).resourceType !== 'Parameters') {
    throw new FhirError('MALFORMED_BODY', `${operation} takes a Parameters resource (or no body)`);
  }
  return body as Parameters;
}

function parameter(input: Parameters, name: string): ParametersParameter | undefined {
  return input.parameter?.find((p) => p.name === name);
}

function codeParameter(input: Parameters, name: string): string | undefined {
  const p = parameter(input, name);
  return p?.valueCode ?? p?.valueCoding?.code ?? p?.valueString;
}

function stringParameter(input: Parameters, name: string): string | undefined {
  return parameter(input, name)?.valueString;
}

import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import { isSupportedType, type SupportedType } from '../fhir/resource-types.js';
import type { FhirRequest, FhirResponse, HandlerContext, TouchedResource } from '../fhir/types.js';
import { ACCESS_REASON_SYSTEM, type AuditInput } from './audit-event.js';

/** Interactions that change data: their audit commits in the same transaction as the change. */
const WRITES = new Set(['create', 'update', 'patch', 'delete']);
/** Interactions that leave no trace of their own (no patient data; transaction entries are traced one by one). */
const UNTRACED = new Set(['capabilities', '$validate', 'transaction']);

/**
 * Runs one FHIR interaction with its audit trail (IHE BALP): one AuditEvent per patient record it
 * touched, allowed or denied. Writes are audited in their own transaction; reads are audited
 * (committed) before the answer leaves. If the audit cannot be written, the request fails.
 */
export async function withAudit(
  ctx: HandlerContext,
  req: FhirRequest,
  interaction: string,
  type: string | undefined,
  run: (ctx: HandlerContext) => Promise<FhirResponse>
): Promise<FhirResponse> {
  if (!ctx.audit || ctx.principal.kind === 'internal' || ctx.principal.kind === 'anonymous' || UNTRACED.has(interaction)) {
    return run(ctx);
  }
  try {
    if (WRITES.has(interaction)) {
      return await ctx.repo.transaction(async (repo) => {
        const txCtx = { ...ctx, repo };
        const response = await run(txCtx);
        await record(txCtx, req, interaction, await touchedBy(txCtx, type, response), { success: true });
        return response;
      });
    }
    const response = await run(ctx);
    await record(ctx, req, interaction, await touchedBy(ctx, type, response), { success: true });
    return response;
  } catch (err) {
    // Inside a transaction Bundle the failure rolls everything back, this trace included: the
    // Bundle as a whole is then answered with the error, and the entries' successes were not kept.
    if (err instanceof FhirError && !ctx.repo.inTransaction) {
      const target = failedTarget(req, type);
      const patientId = target ? (await ctx.repo.read(target.type, target.id))?.patientId ?? null : null;
      const touched = target ? [{ ref: `${target.type}/${target.id}`, patientId }] : [];
      // The catalogue code, then the DMP access reason (not-authorised, blocked...) when the refusal carries one.
      const codings = err.outcome.issue[0]?.details?.coding ?? [];
      const accessReason = codings.find((c) => c.system === ACCESS_REASON_SYSTEM)?.code;
      const reason = [codings[0]?.code ?? 'error', ...(accessReason ? [accessReason] : [])].join(' ');
      await record(ctx, req, interaction, touched, { success: false, reason, text: err.message, serious: err.status >= 500 });
    }
    throw err;
  }
}

async function touchedBy(ctx: HandlerContext, type: string | undefined, response: FhirResponse): Promise<readonly TouchedResource[]> {
  if (response.touched) {
    return response.touched;
  }
  const resource = response.resource as Resource | undefined;
  if (!resource?.id || resource.resourceType === 'OperationOutcome' || resource.resourceType === 'Bundle' || !isSupportedType(resource.resourceType)) {
    return [];
  }
  const stored = await ctx.repo.read(resource.resourceType, resource.id);
  return [{ ref: `${resource.resourceType}/${resource.id}`, patientId: stored?.patientId ?? null }];
}

/** The instance a failed request aimed at (`Type/id/...`), if any. */
function failedTarget(req: FhirRequest, type: string | undefined): { type: SupportedType; id: string } | undefined {
  const [, id] = req.path.split('/');
  return type && isSupportedType(type) && id && !id.startsWith('_') && !id.startsWith('$') ? { type, id } : undefined;
}

/** One AuditEvent per patient record touched (BALP: per patient); one without patient when none. */
async function record(
  ctx: HandlerContext,
  req: FhirRequest,
  interaction: string,
  touched: readonly TouchedResource[],
  outcome: AuditInput['outcome']
): Promise<void> {
  const byPatient = new Map<string | undefined, string[]>();
  for (const t of touched) {
    const key = t.patientId ?? undefined;
    byPatient.set(key, [...(byPatient.get(key) ?? []), t.ref]);
  }
  if (byPatient.size === 0) {
    byPatient.set(undefined, []);
  }
  const query = interaction === 'search-type' || interaction === 'history-type' ? queryString(req) : undefined;
  const recorded = new Date();
  const inputs: AuditInput[] = [...byPatient].map(([patientId, entities]) => ({
    interaction,
    principal: ctx.principal,
    patientId,
    entities,
    outcome,
    requestId: ctx.requestId ?? 'unknown',
    query,
    recorded,
  }));
  await ctx.audit?.write(ctx.repo, inputs);
}

function queryString(req: FhirRequest): string {
  const params = new URLSearchParams();
  for (const [k, values] of Object.entries(req.query)) {
    values.forEach((v) => params.append(k, v));
  }
  return `${req.path}?${params.toString()}`;
}

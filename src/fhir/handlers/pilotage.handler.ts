import type { Parameters } from '@medplum/fhirtypes';
import { grantingScopes } from '../../auth/scopes.js';
import { isAuthenticated, type Principal } from '../../policy/principal.js';
import { consultations, dmpsCreated, dmpsFed, documentsByType, feeds } from '../../repo/pilotage-queries.js';
import { FhirError } from '../outcomes.js';
import { reportPeriod } from '../pilotage-period.js';
import { pilotageReport } from '../pilotage-report.js';
import type { FhirRequest, FhirResponse, HandlerContext } from '../types.js';

/** The scope a system client needs, written out: a `system/*` wildcard does not grant it. */
export const PILOTAGE_SCOPE = 'system/MeasureReport.r';

const PARAMS = new Set(['period-start', 'period-end', '_format', '_pretty']);

/**
 * `GET|POST [base]/$pilotage?period-start=...&period-end=...`: the DMP usage indicators of the
 * period as a summary MeasureReport (pilotage-report.ts), computed in SQL over the stored versions
 * and the audit trail. For system clients whose token names MeasureReport in a `system/` scope with
 * read (`system/MeasureReport.r`, `.rs`, `.read`), whatever their DMP role: the report names no patient.
 */
export async function pilotageHandler(ctx: HandlerContext, req: FhirRequest): Promise<FhirResponse> {
  requirePilotageAccess(ctx.principal);
  const params = parametersOf(req);
  const { bounds, period } = reportPeriod(params['period-start'], params['period-end']);
  const db = ctx.repo.queryable;
  const figures = {
    created: await dmpsCreated(db, bounds),
    fed: await dmpsFed(db, bounds),
    documentsByType: await documentsByType(db, bounds),
    feeds: await feeds(db, bounds),
    consultations: await consultations(db, bounds),
  };
  return { status: 200, resource: pilotageReport(figures, period, ctx.settings.pilotageMinCellCount ?? 1) };
}

/** System clients with the dedicated scope; everyone else 403 saying what is missing. */
function requirePilotageAccess(principal: Principal): void {
  if (principal.kind === 'internal') {
    return;
  }
  if (!isAuthenticated(principal)) {
    throw new FhirError('UNAUTHORIZED', 'A bearer access token is required');
  }
  if (principal.kind !== 'system') {
    throw new FhirError('FORBIDDEN', `Les indicateurs de pilotage du DMP sont réservés aux clients système habilités (The DMP usage indicators are for system clients holding ${PILOTAGE_SCOPE}; professionals and patients do not get them)`);
  }
  const named = grantingScopes(principal.token.scopes, { resourceType: 'MeasureReport', permission: 'r' }).filter((s) => s.context === 'system' && s.resourceType === 'MeasureReport');
  if (named.length === 0) {
    throw new FhirError('INSUFFICIENT_SCOPE', `The access token has no scope allowing this: $pilotage needs ${PILOTAGE_SCOPE} (or .rs), named explicitly, a system/* wildcard does not grant it (granted: ${principal.token.scope || 'none'})`);
  }
}

/** `period-start` / `period-end` from the query string or, for POST, a Parameters body (valueDate / valueDateTime). */
function parametersOf(req: FhirRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, values] of Object.entries(req.query)) {
    if (!PARAMS.has(name)) {
      throw new FhirError('BAD_REQUEST', `$pilotage: unknown parameter "${name}" (supported: period-start, period-end)`, [name]);
    }
    if (values.length > 1) {
      throw new FhirError('BAD_REQUEST', `$pilotage: ${name} may be given only once`, [name]);
    }
    out[name] = values[0];
  }
  if (req.method === 'POST' && req.body !== undefined) {
    const body = req.body as Partial<Parameters>;
    if (body.resourceType !== 'Parameters') {
      throw new FhirError('WRONG_RESOURCE_TYPE', `POST $pilotage takes a Parameters resource (got ${String(body.resourceType ?? 'no resourceType')})`, ['resourceType']);
    }
    (body.parameter ?? []).forEach((p, i) => {
      if (p.name !== 'period-start' && p.name !== 'period-end') {
        throw new FhirError('BAD_REQUEST', `$pilotage: unknown parameter "${String(p.name)}" (supported: period-start, period-end)`, [`Parameters.parameter[${i}]`]);
      }
      out[p.name] = p.valueDate ?? p.valueDateTime ?? p.valueString;
    });
  }
  return out;
}

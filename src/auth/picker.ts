import type { Patient } from '@medplum/fhirtypes';
import { INTERNAL } from '../policy/principal.js';
import { searchFilterFor } from '../policy/search-filter.js';
import { runSearch } from '../repo/search.js';
import { parseSearch } from '../fhir/search/request.js';
import { FhirError } from '../fhir/outcomes.js';
import type { AuthResult, PendingAuthorization } from './authorize.handler.js';
import { errorPage, escapeHtml, page } from './pages.js';
import type { AuthServices } from './services.js';

const MAX_RESULTS = 20;

/**
 * `GET /auth/pick-patient`: the page where a professional finds the patient of a standalone launch,
 * by INS (`system|value` or the 15 characters) or by name.
 */
export async function pickPatientPage(s: AuthServices, requestId: string, q: string | undefined, browserSecret: string | undefined): Promise<AuthResult> {
  const pending = await s.store.loadRequest<PendingAuthorization>(requestId, browserSecret);
  if (!pending?.identity) {
    return { kind: 'page', status: 400, html: errorPage('Demande expirée', 'This patient choice is unknown, expired or already used. Start again from the application.') };
  }
  const query = (q ?? '').trim();
  const patients = query ? await findPatients(s, query) : [];
  const results = patients.map((p) => {
    const name = p.name?.[0];
    const label = `${name?.family ?? ''} ${(name?.given ?? []).join(' ')} — ${p.birthDate ?? ''} — INS ${p.identifier?.[0]?.value ?? ''}`;
    return `<label><input type="radio" name="patient" value="${escapeHtml(p.id as string)}" required> ${escapeHtml(label)}</label>`;
  });
  const list = query
    ? results.length
      ? `<form method="post" action="pick-patient"><input type="hidden" name="request" value="${escapeHtml(requestId)}"><fieldset><legend>Patients trouvés</legend>${results.join('')}</fieldset><button type="submit">Choisir ce patient</button></form>`
      : '<p role="status">Aucun patient trouvé.</p>'
    : '';
  const body = `<h1>Choisir le patient</h1>
<form method="get" action="pick-patient" role="search"><input type="hidden" name="request" value="${escapeHtml(requestId)}">
<label for="q">INS ou nom du patient</label><input type="search" id="q" name="q" value="${escapeHtml(query)}" autofocus>
<button type="submit">Rechercher</button></form>${list}`;
  return { kind: 'page', status: 200, html: page('Choisir le patient', body) };
}

async function findPatients(s: AuthServices, q: string): Promise<Patient[]> {
  const byIns = /^\S+\|\S+$/.test(q) || /^[0-9AB]{13,15}$/i.test(q);
  const params: Record<string, string[]> = byIns ? { identifier: [q.includes('|') ? q : q.toUpperCase()] } : { name: [q] };
  try {
    const search = parseSearch('Patient', params, { lenient: false, defaultCount: MAX_RESULTS, maxCount: MAX_RESULTS });
    const page = await runSearch(s.repo.queryable, { ...search.query, total: false }, (t) => searchFilterFor(INTERNAL, t));
    return page.matches as Patient[];
  } catch (err) {
    if (err instanceof FhirError) {
      return [];
    }
    throw err;
  }
}

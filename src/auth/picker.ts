import type { Patient } from '@medplum/fhirtypes';
import { INS_SYSTEMS } from '../dmp/identifiers.js';
import { INTERNAL } from '../policy/principal.js';
import { searchFilterFor } from '../policy/search-filter.js';
import { runSearch } from '../repo/search.js';
import { parseSearch } from '../fhir/search/request.js';
import { FhirError } from '../fhir/outcomes.js';
import type { AuthResult, PendingAuthorization } from './authorize.handler.js';
import { errorPage, html, page, type SafeHtml } from './html.js';
import type { AuthServices } from './services.js';
import { representedMinors, type PatientUser } from './represented-records.js';

const MAX_RESULTS = 20;

/**
 * `GET /auth/pick-patient`: the page where a professional finds the patient of a standalone launch,
 * by INS (`system|value` or the 15 characters) or by name.
 */
export async function pickPatientPage(s: AuthServices, requestId: string, q: string | undefined, browserSecret: string | undefined): Promise<AuthResult> {
  const pending = await s.store.loadRequest<PendingAuthorization>(requestId, browserSecret);
  if (!pending?.identity) {
    return { kind: 'page', status: 400, html: errorPage('Demande expirée', 'Ce choix de patient est inconnu, a expiré ou a déjà servi.') };
  }
  if (pending.identity.kind === 'patient') {
    return recordChoicePage(s, requestId, pending.identity);
  }
  const query = (q ?? '').trim();
  const byIns = isInsQuery(query);
  const patients = query && byIns ? await findPatients(s, query) : [];
  const title = 'Choisir le patient';
  const body = html`<h1>${title}</h1>
<p class="lead">Recherchez le patient par son INS (15 caractères, lu sur la carte Vitale ou obtenu auprès du téléservice INSi), puis choisissez-le : l’application n’aura accès qu’à son dossier.</p>
<form method="get" action="pick-patient" role="search" class="search"><input type="hidden" name="request" value="${requestId}">
<label class="field" for="q">INS du patient</label>
<div class="search-row"><input type="search" id="q" name="q" value="${query}" autocomplete="off" autofocus>
<button type="submit" class="primary">Rechercher</button></div>
</form>
${query && !byIns ? html`<p class="notice" role="status">Un patient se recherche par son INS : 15 caractères (chiffres, 2A ou 2B pour la Corse), ou système|valeur. La recherche par nom n’est pas ouverte, pour ne montrer à personne l’identité d’un patient qu’il ne connaît pas déjà.</p>` : query ? results(requestId, patients) : ''}`;
  return { kind: 'page', status: 200, html: page(title, body) };
}

/** A legal representative's choice: their own record or that of a minor they represent (DMP rule 8). */
async function recordChoicePage(s: AuthServices, requestId: string, user: PatientUser): Promise<AuthResult> {
  const ids = [user.patientId, ...(await representedMinors(s.repo, user))];
  const patients: Patient[] = [];
  for (const id of ids) {
    const stored = await s.repo.read('Patient', id);
    if (stored?.resource && !stored.deleted) patients.push(stored.resource as Patient);
  }
  const title = 'Choisir le dossier';
  const body = html`<h1>${title}</h1>
<p class="lead">Vous êtes le représentant légal d’un ou plusieurs mineurs : choisissez le dossier que l’application consultera, le vôtre ou celui de l’enfant.</p>
${results(requestId, patients, 'Dossiers', 'Choisir ce dossier')}`;
  return { kind: 'page', status: 200, html: page(title, body) };
}

function results(requestId: string, patients: readonly Patient[], legend = 'Patients trouvés', action = 'Choisir ce patient'): SafeHtml {
  if (patients.length === 0) {
    return html`<p class="notice" role="status">Aucun patient trouvé.</p>`;
  }
  const choices = patients.map((p, i) => {
    const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
    const label = [name?.family, ...(name?.given ?? [])].filter(Boolean).join(' ') || (p.id as string);
    const ins = p.identifier?.find((i) => i.system && INS_SYSTEMS.includes(i.system) && i.value)?.value;
    const details = [p.birthDate ? `né(e) le ${p.birthDate.split('-').reverse().join('/')}` : undefined, ins ? `INS ${ins}` : undefined]
      .filter(Boolean)
      .join(' · ');
    const id = `patient-${i}`;
    return html`<li><label for="${id}"><input type="radio" id="${id}" name="patient" value="${p.id as string}" required>
<span><span class="who">${label}</span>${details ? html`<span class="what">${details}</span>` : ''}</span></label></li>
`;
  });
  return html`<form method="post" action="pick-patient"><input type="hidden" name="request" value="${requestId}">
<fieldset>
<legend>${legend}</legend>
<ul>
${choices}</ul>
</fieldset>
<div class="actions"><button type="submit" class="primary">${action}</button></div>
</form>`;
}

/** An INS as the picker takes it: `system|value`, or the 15 characters (13 + key). */
function isInsQuery(q: string): boolean {
  return /^\S+\|\S+$/.test(q) || /^[0-9AB]{13,15}$/i.test(q);
}

/** The patients carrying this INS (exact match on the identifier: no browsing by name). */
async function findPatients(s: AuthServices, q: string): Promise<Patient[]> {
  const params: Record<string, string[]> = { identifier: [q.includes('|') ? q : q.toUpperCase()] };
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

import { errorPage as sharedErrorPage, html, page, type SafeHtml } from '../html.js';
import type { DemoUser } from './users.js';

export interface LoginPageModel {
  /** Where the form posts (the provider's `/login`). */
  readonly action: string;
  /** Opaque id of the pending authorisation request (hidden field). */
  readonly requestId: string;
  readonly clientId: string;
  readonly users: readonly DemoUser[];
  /** Shown above the form (e.g. no one was chosen). */
  readonly error?: string;
}

function userChoice(user: DemoUser, index: number): SafeHtml {
  const id = `user-${index}`;
  return html`<li><label for="${id}"><input type="radio" id="${id}" name="user" value="${user.id}" required>
<span><span class="who">${user.label}</span>${user.description ? html`<span class="what">${user.description}</span>` : ''}</span></label></li>
`;
}

function group(legend: string, users: readonly DemoUser[], offset: number): SafeHtml {
  if (users.length === 0) {
    return html``;
  }
  return html`<fieldset>
<legend>${legend}</legend>
<ul>
${users.map((u, i) => userChoice(u, offset + i))}</ul>
</fieldset>
`;
}

/** The login page: pick a professional or a patient, then « Se connecter » (or « Annuler »). */
export function loginPage(model: LoginPageModel): string {
  const professionals = model.users.filter((u) => u.kind === 'practitioner');
  const patients = model.users.filter((u) => u.kind === 'patient');
  const title = 'Connexion – fournisseur d’identité de démonstration';
  const body = html`<h1>${title}</h1>
<p class="lead">L’application « ${model.clientId} » demande à vous identifier.</p>
<p class="notice">Démonstration : aucun mot de passe. Choisissez la personne au nom de laquelle vous vous connectez (toutes les personnes sont fictives).</p>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="${model.action}">
<input type="hidden" name="request" value="${model.requestId}">
${model.users.length === 0 ? html`<p class="error" role="alert">Aucune personne n’est disponible : chargez les données de démonstration.</p>` : ''}
${group('Professionnels de santé', professionals, 0)}${group('Patients', patients, professionals.length)}<div class="actions">
${model.users.length > 0 ? html`<button type="submit" class="primary" name="action" value="login">Se connecter</button>` : ''}
<button type="submit" class="secondary" name="action" value="cancel" formnovalidate>Annuler</button>
</div>
</form>`;
  return page(title, body);
}

/** A page for errors that cannot go back to the application (unknown client or redirect URI, expired request). */
export function errorPage(message: string): string {
  return sharedErrorPage('Connexion impossible', message);
}

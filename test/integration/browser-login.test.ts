import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { Patient, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { FR_CORE_IDENTIFIER_TYPE_SYSTEM, IDENTIFIER_TYPE, IDNPS_SYSTEM, PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../../src/dmp/identifiers.js';
import { postForm } from '../helpers/auth.js';
import { launchChromium, registerClient, startLoopbackApp, STEP_TIMEOUT_MS, type LoopbackApp, type TestBrowser } from '../helpers/browser.js';
import { fhirFetch, officialName, testPatient, unique } from '../helpers/fhir.js';
import { getTestServer, type TestServer } from '../helpers/server.js';

const SCOPE = 'launch/patient openid fhirUser patient/*.rs';
/** Background of the pages' stylesheet (`body`): only there when the CSP lets the stylesheet apply. */
const STYLED_BODY_BACKGROUND = 'rgb(245, 245, 254)';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** PKCE (RFC 7636) computed here, independently of the server's code. */
function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function created<T>(res: Response): Promise<T> {
  const text = await res.text();
  expect(res.status, text).to.equal(201);
  return JSON.parse(text) as T;
}

function randomDigits(n: number): string {
  return Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
}

async function bodyBackground(page: Page): Promise<string> {
  return page.evaluate(() => getComputedStyle(document.body).backgroundColor);
}

describe('Login and patient-picker pages in headless Chromium', function () {
  // Chromium start plus a few page loads; every single wait has its own, shorter bound.
  this.timeout(60_000);

  let server: TestServer;
  let browser: TestBrowser | undefined;
  let app: LoopbackApp | undefined;
  let unregister: (() => void) | undefined;
  let clientId: string;
  let shotsDir: string;
  const keepShots = process.env.BROWSER_SCREENSHOTS_DIR;
  const pages: Page[] = [];

  let practitionerId: string;
  let practitionerName: string;
  let pickedPatient: Patient;
  let loginPatient: Patient;

  before(async function () {
    // First, so that a missing Chromium fails (does not skip) at once, saying how to install it.
    browser = await launchChromium();
    server = await getTestServer();
    shotsDir = keepShots ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-browser-shots-'));
    fs.mkdirSync(shotsDir, { recursive: true });

    // A professional (IDNPS + a médecin role) and two patients: the demo IdP lists them from the DB.
    const family = unique('Lefort');
    practitionerName = `Dr Camille ${family}`;
    const practitioner = await created<Practitioner>(
      await fhirFetch('Practitioner', {
        method: 'POST',
        body: JSON.stringify({
          resourceType: 'Practitioner',
          active: true,
          identifier: [
            {
              use: 'official',
              type: { coding: [{ system: FR_CORE_IDENTIFIER_TYPE_SYSTEM, code: IDENTIFIER_TYPE.IDNPS }] },
              system: IDNPS_SYSTEM,
              value: `8${randomDigits(11)}`,
            },
          ],
          name: [{ use: 'official', family, given: ['Camille'], prefix: ['Dr'] }],
        } satisfies Practitioner),
      })
    );
    practitionerId = practitioner.id as string;
    await created<PractitionerRole>(
      await fhirFetch('PractitionerRole', {
        method: 'POST',
        body: JSON.stringify({
          resourceType: 'PractitionerRole',
          active: true,
          practitioner: { reference: `Practitioner/${practitionerId}` },
          code: [{ coding: [{ system: PROFESSION_SYSTEM, code: '10', display: 'Médecin' }] }],
          specialty: [{ coding: [{ system: SPECIALITY_SYSTEM, code: 'SM54', display: 'Médecine générale' }] }],
        } satisfies PractitionerRole),
      })
    );
    pickedPatient = await created<Patient>(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient({ name: [officialName(unique('Picked'), ['Jeanne'])] })) }));
    loginPatient = await created<Patient>(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient({ name: [officialName(unique('Self'), ['Louise'])] })) }));

    // The "app": a loopback page at its redirect URI, registered as a public PKCE client.
    app = await startLoopbackApp();
    clientId = unique('browser-test-app-');
    unregister = registerClient(server.clients.file, {
      client_id: clientId,
      client_name: 'Browser test app',
      redirect_uris: [app.redirectUri],
      token_endpoint_auth_method: 'none',
      scope: 'openid fhirUser profile launch launch/patient offline_access online_access patient/*.cruds user/*.cruds',
      grant_types: ['authorization_code', 'refresh_token'],
    });
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((p) => p.close().catch(() => undefined)));
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    unregister?.();
    if (!keepShots && shotsDir) {
      fs.rmSync(shotsDir, { recursive: true, force: true });
    }
  });

  async function newPage(): Promise<{ page: Page; consoleErrors: string[] }> {
    const opened = await (browser as TestBrowser).newPage();
    pages.push(opened.page);
    return opened;
  }

  function authorizeUrl(options: { state: string; challenge: string; redirectUri?: string }): string {
    const url = new URL(`${server.baseUrl}/auth/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: options.redirectUri ?? (app as LoopbackApp).redirectUri,
      scope: SCOPE,
      state: options.state,
      aud: server.fhirBase,
      code_challenge: options.challenge,
      code_challenge_method: 'S256',
    }).toString();
    return url.toString();
  }

  /** Opens the app's authorisation URL; the browser follows the redirect to the demo IdP's login page. */
  async function openLogin(page: Page, state: string, challenge: string): Promise<void> {
    const res = await page.goto(authorizeUrl({ state, challenge }));
    expect(res?.status(), 'login page status').to.equal(200);
    expect(new URL(page.url()).pathname).to.equal('/demo-idp/authorize');
  }

  function professionalChoice(page: Page) {
    // Its label: the name then "Médecin · …" (the "(régulateur SAMU)" variant does not match).
    return page.getByRole('radio', { name: new RegExp(`^${escapeRegExp(practitionerName)}\\s*Médecin`) });
  }

  /** Logs in as the professional with the keyboard only (choice by Space, Tab to the button, Enter). */
  async function keyboardLoginAsProfessional(page: Page): Promise<void> {
    const choice = professionalChoice(page);
    await choice.focus();
    await page.keyboard.press('Space');
    expect(await choice.isChecked(), 'Space checks the focused choice').to.equal(true);
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => ({ tag: document.activeElement?.tagName, text: document.activeElement?.textContent?.trim() }));
    expect(focused, 'Tab after the choices reaches the login button').to.deep.equal({ tag: 'BUTTON', text: 'Se connecter' });
    await Promise.all([page.waitForURL((u) => u.pathname === '/auth/pick-patient'), page.keyboard.press('Enter')]);
  }

  async function landOnApp(page: Page, action: () => Promise<void>): Promise<URL> {
    const redirectUri = (app as LoopbackApp).redirectUri;
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${redirectUri}?`)), action()]);
    await page.getByRole('heading', { name: /Application de test/ }).waitFor({ timeout: STEP_TIMEOUT_MS });
    return new URL(page.url());
  }

  async function exchange(code: string, verifier: string) {
    return postForm(`${server.baseUrl}/auth/token`, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: (app as LoopbackApp).redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    });
  }

  it('when the demo identity provider login page shows, then it has a heading, the professional as a labelled choice and labelled buttons, styled under its CSP', async () => {
    const { page, consoleErrors } = await newPage();
    await openLogin(page, unique('state'), pkcePair().challenge);

    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.match(/^Connexion/);
    expect(await professionalChoice(page).count()).to.equal(1);
    expect(await page.getByText(practitionerName, { exact: true }).first().isVisible(), 'the name is visible').to.equal(true);
    expect(await page.getByRole('button', { name: 'Se connecter' }).count()).to.equal(1);
    expect(await page.getByRole('button', { name: 'Annuler' }).count()).to.equal(1);
    expect(await bodyBackground(page), 'the stylesheet applies').to.equal(STYLED_BODY_BACKGROUND);
    expect(consoleErrors, 'no CSP violation or other error').to.deep.equal([]);

    const shot = path.join(shotsDir, 'login.png');
    await page.screenshot({ path: shot });
    expect(fs.statSync(shot).size).to.be.greaterThan(1000);
  });

  it('when a professional has logged in with the keyboard and searches the INS on the picker, then the patient shows as a labelled choice, styled under its CSP', async () => {
    const { page, consoleErrors } = await newPage();
    await openLogin(page, unique('state'), pkcePair().challenge);
    await keyboardLoginAsProfessional(page);

    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Choisir le patient');
    const search = page.getByLabel('INS du patient');
    await search.fill(pickedPatient.identifier?.[0]?.value as string);
    await Promise.all([page.waitForURL((u) => u.pathname === '/auth/pick-patient' && u.searchParams.has('q')), search.press('Enter')]);

    const family = pickedPatient.name?.[0]?.family as string;
    const choices = page.getByRole('radio');
    expect(await choices.count(), 'only the patient with that INS').to.equal(1);
    expect(await page.getByRole('radio', { name: new RegExp(`^${escapeRegExp(family)} Jeanne`) }).count()).to.equal(1);
    expect(await page.getByRole('button', { name: 'Choisir ce patient' }).count()).to.equal(1);
    expect(await bodyBackground(page), 'the stylesheet applies').to.equal(STYLED_BODY_BACKGROUND);
    expect(consoleErrors, 'no CSP violation or other error').to.deep.equal([]);

    const shot = path.join(shotsDir, 'picker.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).to.be.greaterThan(1000);
  });

  it('when a professional logs in, picks the patient by INS and confirms, then the browser lands on the app with a code and the same state, and the code gives a token for that patient', async () => {
    const { page } = await newPage();
    const { verifier, challenge } = pkcePair();
    const state = unique('state');
    await openLogin(page, state, challenge);
    await keyboardLoginAsProfessional(page);

    const search = page.getByLabel('INS du patient');
    await search.fill(pickedPatient.identifier?.[0]?.value as string);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('q')), page.getByRole('button', { name: 'Rechercher' }).click()]);
    await page.getByRole('radio', { name: new RegExp(`^${escapeRegExp(pickedPatient.name?.[0]?.family as string)}`) }).check();
    const landed = await landOnApp(page, () => page.getByRole('button', { name: 'Choisir ce patient' }).click());

    expect(landed.searchParams.get('state')).to.equal(state);
    const code = landed.searchParams.get('code');
    expect(code, landed.href).to.be.a('string').and.not.equal('');
    expect((app as LoopbackApp).received.some((u) => u.searchParams.get('code') === code), 'the app received the code').to.equal(true);

    const token = await exchange(code as string, verifier);
    expect(token.status, JSON.stringify(token.body)).to.equal(200);
    expect(token.body.patient).to.equal(pickedPatient.id);
    expect(token.body.fhirUser).to.match(new RegExp(`(^|/)Practitioner/${practitionerId}$`));
    expect(String(token.body.scope).split(' ')).to.include('patient/*.rs');
  });

  it('when a patient logs in, then the browser lands on the app with a code directly (no patient picker), and the code gives a token for their own record', async () => {
    const { page } = await newPage();
    const visited: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) {
        visited.push(frame.url());
      }
    });
    const { verifier, challenge } = pkcePair();
    const state = unique('state');
    await openLogin(page, state, challenge);

    const given = loginPatient.name?.[0]?.given?.[0] as string;
    const family = loginPatient.name?.[0]?.family as string;
    await page.getByRole('radio', { name: new RegExp(`^${escapeRegExp(`${given} ${family}`)}`) }).check();
    const landed = await landOnApp(page, () => page.getByRole('button', { name: 'Se connecter' }).click());

    expect(landed.searchParams.get('state')).to.equal(state);
    expect(visited.filter((u) => u.includes('/auth/pick-patient')), 'no picker on the way').to.deep.equal([]);
    const token = await exchange(landed.searchParams.get('code') as string, verifier);
    expect(token.status, JSON.stringify(token.body)).to.equal(200);
    expect(token.body.patient).to.equal(loginPatient.id);
    expect(token.body.fhirUser).to.match(new RegExp(`(^|/)Patient/${loginPatient.id}$`));
  });

  it('when the redirect URI is not registered, then an error page shows and the browser is not sent to it', async () => {
    const { page, consoleErrors } = await newPage();
    const unregistered = `${new URL((app as LoopbackApp).redirectUri).origin}/not-registered`;
    const res = await page.goto(authorizeUrl({ state: unique('state'), challenge: pkcePair().challenge, redirectUri: unregistered }));

    expect(res?.status()).to.equal(400);
    expect(new URL(page.url()).pathname, 'still on the authorisation server').to.equal('/auth/authorize');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Adresse de retour refusée');
    expect(await page.getByRole('alert').textContent()).to.contain('redirect_uri');
    expect((app as LoopbackApp).received.filter((u) => u.pathname === '/not-registered')).to.deep.equal([]);
    expect(await bodyBackground(page), 'the stylesheet applies').to.equal(STYLED_BODY_BACKGROUND);
    // Chromium logs the 400 itself as a console error; nothing else (no CSP violation) is expected.
    expect(consoleErrors.filter((e) => !/status of 400/.test(e)), 'no CSP violation or other error').to.deep.equal([]);
    await page.screenshot({ path: path.join(shotsDir, 'error.png') });
  });
});

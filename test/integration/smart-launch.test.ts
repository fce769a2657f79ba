import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Bundle, Patient, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import type { DemoUser } from '../../src/auth/demo-idp/users.js';
import { IDNPS_SYSTEM, PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../../src/dmp/identifiers.js';
import { expectOutcome } from '../helpers/fhir.js';
import { postForm } from '../helpers/auth.js';
import {
  authorize,
  createDocument,
  createLaunch,
  createPatient,
  fhirclientEhrLaunch,
  loginForToken,
  pickerChoices,
  pickerChoose,
  pickerSearch,
  redeemCode,
  refresh,
  rigFetch,
  rigSystemToken,
  startSmartRig,
  type AuthorizeOutcome,
  type SmartRig,
  type TokenResponse,
} from '../helpers/smart-flow.js';
import type { SmartClient } from '../helpers/smart-fhirclient-app.js';
import { insPatient, pscProfessional } from '../helpers/upstream-idp.js';

type Picker = Extract<AuthorizeOutcome, { kind: 'picker' }>;

/** The error fhirclient throws on a non-2xx FHIR answer. */
async function fhirclientStatus(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
  } catch (err) {
    return (err as { status?: number }).status;
  }
  return undefined;
}

describe('SMART launches, logging in at a test upstream provider (Pro Santé Connect claims)', function () {
  let rig: SmartRig;
  let patient: Patient & { id: string };
  let other: Patient & { id: string };
  let ins: { system: string; value: string };

  before(async () => {
    rig = await startSmartRig();
    patient = await createPatient(rig);
    other = await createPatient(rig);
    ins = { system: patient.identifier?.[0]?.system as string, value: patient.identifier?.[0]?.value as string };
    await createDocument(rig, patient.id);
    await createDocument(rig, other.id);
  });

  after(async () => {
    await rig.close();
  });

  describe('EHR launch of an app written with fhirclient', () => {
    let doctor: DemoUser;
    let client: SmartClient;
    let nonce: string;
    let tokenResponse: TokenResponse;

    before(async () => {
      // fhirclient's Node adapter drives the whole launch: it reads the SMART configuration,
      // redirects to authorize with PKCE, and its ready() redeems the code at the redirect URI.
      const app = rig.clients.fhirclientApp;
      rig.fhirclientApp.configure({ clientId: app.clientId, clientSecret: app.secret as string, scope: 'launch openid fhirUser patient/*.rs' });
      doctor = rig.idp.addUser(pscProfessional({ given: 'Claire', profession: '10', speciality: 'SM54' }));
      const launch = await createLaunch(rig, patient.id, app.clientId);
      ({ client, nonce } = await fhirclientEhrLaunch(rig, launch, doctor));
      tokenResponse = client.state.tokenResponse as TokenResponse;
    });

    it('when the professional has logged in upstream, then the token response names the launch patient, no banner, and the Practitioner', () => {
      expect(client.getPatientId()).to.equal(patient.id);
      expect(tokenResponse.need_patient_banner).to.equal(false);
      expect(tokenResponse.fhirUser).to.match(/^Practitioner\/[^/]+$/);
      expect(tokenResponse.token_type).to.equal('Bearer');
      expect(tokenResponse.access_mode).to.equal('normal');
      expect(tokenResponse.scope.split(' ')).to.include.members(['launch', 'openid', 'fhirUser', 'patient/*.rs']);
    });

    it('when the id_token is checked against the JWKS, then it verifies with iss = BASE_URL, aud = client_id, the nonce and fhirUser', async () => {
      const idToken = tokenResponse.id_token as string;
      const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${rig.baseUrl}/auth/jwks`)), {
        issuer: rig.baseUrl,
        audience: rig.clients.fhirclientApp.clientId,
      });
      expect(payload.nonce).to.equal(nonce);
      expect(payload.fhirUser).to.equal(`${rig.fhirBase}/${tokenResponse.fhirUser as string}`);
      expect(payload.sub).to.equal(doctor.claims.SubjectNameID);
      // fhirclient reads fhirUser from the id_token (relative to the FHIR base).
      expect(client.getFhirUser()).to.equal(tokenResponse.fhirUser);
    });

    it('when the login is done, then the Practitioner (IdNat_PS) and its PractitionerRole (profession 10, SM54) exist', async () => {
      const token = await rigSystemToken(rig);
      const practitionerId = (tokenResponse.fhirUser as string).split('/')[1];
      const practitioner = (await (await rigFetch(rig, `Practitioner/${practitionerId}`, token)).json()) as Practitioner;
      expect(practitioner.identifier).to.deep.include.members([
        { use: 'official', type: practitioner.identifier?.[0]?.type, system: IDNPS_SYSTEM, value: doctor.claims.SubjectNameID as string },
      ]);
      expect(practitioner.name?.[0]?.family).to.equal(doctor.claims.family_name);
      const roles = (await (await rigFetch(rig, `PractitionerRole?practitioner=Practitioner/${practitionerId}`, token)).json()) as Bundle<PractitionerRole>;
      const role = roles.entry?.map((e) => e.resource as PractitionerRole) ?? [];
      expect(role).to.have.length(1);
      expect(role[0].code?.[0]?.coding).to.deep.include({ system: PROFESSION_SYSTEM, code: '10' });
      expect(role[0].specialty?.[0]?.coding).to.deep.include({ system: SPECIALITY_SYSTEM, code: 'SM54' });
    });

    it("when fhirclient reads with the token, then the launch patient's record and documents are served", async () => {
      const read = (await client.request(`Patient/${patient.id}`)) as Patient;
      expect(read.id).to.equal(patient.id);
      const docs = (await client.request(`DocumentReference?patient=${patient.id}`)) as Bundle;
      expect(docs.entry).to.have.length(1);
    });

    it('when fhirclient reads another patient with the token, then the server answers 403', async () => {
      expect(await fhirclientStatus(client.request(`Patient/${other.id}`))).to.equal(403);
      const res = await rigFetch(rig, `Patient/${other.id}`, tokenResponse.access_token);
      await expectOutcome(res, 403, 'OUTSIDE_PATIENT_CONTEXT');
    });

    it('when the same professional logs in again, then no second Practitioner or PractitionerRole is made', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const again = await loginForToken(rig, { scope: 'launch openid fhirUser patient/*.rs', launch }, doctor);
      expect(again.fhirUser).to.equal(tokenResponse.fhirUser);
      const token = await rigSystemToken(rig);
      const found = (await (await rigFetch(rig, `Practitioner?identifier=${IDNPS_SYSTEM}|${doctor.claims.SubjectNameID as string}`, token)).json()) as Bundle;
      expect(found.total).to.equal(1);
      const roles = (await (await rigFetch(rig, `PractitionerRole?${new URLSearchParams({ practitioner: again.fhirUser as string })}`, token)).json()) as Bundle;
      expect(roles.total).to.equal(1);
    });
  });

  describe('EHR launch over plain HTTP (public app)', () => {
    it('when the app sends launch and the professional logs in, then the browser lands on the redirect URI with a code, without any other page', async () => {
      const launch = await createLaunch(rig, patient.id, rig.clients.publicApp.clientId);
      const outcome = await authorize(rig, { scope: 'launch openid fhirUser patient/*.rs', launch, nonce: 'n-ehr' }, rig.idp.addUser(pscProfessional()));
      expect(outcome.kind).to.equal('code');
      const paths = outcome.browser.visited.map((u) => `${u.port === new URL(rig.baseUrl).port ? 'app' : 'idp'}:${u.pathname}`);
      expect(paths).to.deep.equal(['app:/auth/authorize', 'idp:/psc/authorize', 'idp:/psc/login', 'app:/auth/callback']);
      const { code, verifier } = outcome as Extract<AuthorizeOutcome, { kind: 'code' }>;
      const res = await redeemCode(rig, code, verifier);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ patient: patient.id, need_patient_banner: false });
      expect(decodeJwt(res.body.id_token as string).nonce).to.equal('n-ehr');
    });
  });

  describe('standalone launch by a professional (patient picker)', () => {
    let picker: Picker;

    before(async () => {
      const outcome = await authorize(rig, { scope: 'launch/patient openid fhirUser patient/*.rs offline_access' }, rig.idp.addUser(pscProfessional()));
      expect(outcome.kind).to.equal('picker');
      picker = outcome as Picker;
    });

    it('when the professional has logged in, then the server shows its patient picker with a search form', () => {
      expect(picker.html).to.contain('<form method="get" action="pick-patient"');
      expect(picker.html).to.contain('name="q"');
      expect(pickerChoices(picker.html)).to.deep.equal([]);
    });

    it('when the professional searches by INS as system|value, then the patient is offered', async () => {
      const page = await pickerSearch(rig, picker, `${ins.system}|${ins.value}`);
      expect(page.status).to.equal(200);
      expect(pickerChoices(page.text)).to.deep.equal([patient.id]);
    });

    it('when the professional searches by the bare INS value, then the patient is offered', async () => {
      const page = await pickerSearch(rig, picker, ins.value);
      expect(pickerChoices(page.text)).to.deep.equal([patient.id]);
    });

    it('when the professional searches by family name, then no one is offered and the picker says a patient is found by INS', async () => {
      const page = await pickerSearch(rig, picker, patient.name?.[0]?.family as string);
      expect(pickerChoices(page.text)).to.deep.equal([]);
      expect(page.text).to.contain('se recherche par son INS');
    });

    it('when nothing matches, then the picker says so and offers no one', async () => {
      const page = await pickerSearch(rig, picker, '100000000000000');
      expect(pickerChoices(page.text)).to.deep.equal([]);
      expect(page.text).to.contain('role="status"');
    });

    it('when the professional picks the patient, then the code gives a token with that patient, a banner and a refresh token', async () => {
      const outcome = await pickerChoose(rig, picker, patient.id);
      expect(outcome.kind).to.equal('code');
      const { code, verifier } = outcome as Extract<AuthorizeOutcome, { kind: 'code' }>;
      const res = await redeemCode(rig, code, verifier);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ patient: patient.id, need_patient_banner: true, token_type: 'Bearer' });
      expect(res.body.refresh_token).to.be.a('string');
      expect(res.body.fhirUser).to.match(/^Practitioner\//);
      expect(String(res.body.scope).split(' ')).to.include.members(['launch/patient', 'patient/*.rs', 'offline_access']);
      expect((await rigFetch(rig, `Patient/${patient.id}`, res.body.access_token as string)).status).to.equal(200);
    });

    it('when the same pick is posted again, then an error page is shown, not a second code', async () => {
      const outcome = await pickerChoose(rig, picker, patient.id);
      expect(outcome.kind).to.equal('page');
      const { page } = outcome as Extract<AuthorizeOutcome, { kind: 'page' }>;
      expect(page.status).to.equal(400);
      expect(page.headers.get('location')).to.equal(null);
    });
  });

  describe('refresh tokens of a standalone launch', () => {
    const standalone = async (): Promise<TokenResponse> =>
      loginForToken(rig, { scope: 'launch/patient openid fhirUser patient/*.rs offline_access' }, rig.idp.addUser(pscProfessional()), patient.id);

    it('when the refresh token is used, then a new access token and a new refresh token come back, with the same patient', async () => {
      const first = await standalone();
      const res = await refresh(rig, first.refresh_token as string);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.body.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
      expect(res.body.access_token).to.not.equal(first.access_token);
      expect(res.body).to.include({ patient: patient.id, scope: first.scope });
      expect((await rigFetch(rig, `Patient/${patient.id}`, res.body.access_token as string)).status).to.equal(200);
    });

    it('when a rotated refresh token is presented again, then it is refused and every token of the family stops working', async () => {
      const first = await standalone();
      const second = await refresh(rig, first.refresh_token as string);
      expect(second.status).to.equal(200);
      const replay = await refresh(rig, first.refresh_token as string);
      expect(replay.status).to.equal(400);
      expect(replay.body.error).to.equal('invalid_grant');
      expect((await rigFetch(rig, `Patient/${patient.id}`, first.access_token)).status).to.equal(401);
      expect((await rigFetch(rig, `Patient/${patient.id}`, second.body.access_token as string)).status).to.equal(401);
      const third = await refresh(rig, second.body.refresh_token as string);
      expect(third.status).to.equal(400);
      expect(third.body.error).to.equal('invalid_grant');
    });
  });

  describe('standalone launch by a patient (ins claim)', () => {
    it('when a patient logs in, then they get their own record without a picker, and nobody else’s', async () => {
      const user = rig.idp.addUser(insPatient(ins.system, ins.value));
      const outcome = await authorize(rig, { scope: 'launch/patient openid fhirUser patient/*.rs' }, user);
      expect(outcome.kind).to.equal('code');
      const { code, verifier } = outcome as Extract<AuthorizeOutcome, { kind: 'code' }>;
      const res = await redeemCode(rig, code, verifier);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ patient: patient.id, fhirUser: `Patient/${patient.id}` });
      const token = res.body.access_token as string;
      expect((await rigFetch(rig, `Patient/${patient.id}`, token)).status).to.equal(200);
      await expectOutcome(await rigFetch(rig, `Patient/${other.id}`, token), 403, 'OUTSIDE_PATIENT_CONTEXT');
    });

    it('when the INS of the login matches no patient, then the app gets error=access_denied', async () => {
      const user = rig.idp.addUser(insPatient(ins.system, '299999999999999'));
      const outcome = await authorize(rig, { scope: 'launch/patient openid patient/*.rs' }, user);
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('access_denied');
    });
  });

  describe('access modes', () => {
    const introspect = async (token: string): Promise<Record<string, unknown>> => {
      const res = await postForm(`${rig.baseUrl}/auth/introspect`, { token }, { authorization: `Bearer ${await rigSystemToken(rig)}` });
      expect(res.status).to.equal(200);
      return res.body;
    };

    it('when bris_de_glace comes without access_reason, then the app gets error=invalid_request with its state, before any login', async () => {
      const outcome = await authorize(rig, { scope: 'openid fhirUser user/*.rs', accessMode: 'bris_de_glace' });
      expect(outcome.kind).to.equal('error');
      const err = outcome as Extract<AuthorizeOutcome, { kind: 'error' }>;
      expect(err.error).to.equal('invalid_request');
      expect(err.state).to.be.a('string');
      expect(err.browser.visited).to.have.length(1);
    });

    it('when bris_de_glace comes with an access_reason, then the token response and introspection carry the mode', async () => {
      const token = await loginForToken(rig, { scope: 'openid fhirUser user/*.rs', accessMode: 'bris_de_glace', accessReason: 'Patient inconscient aux urgences' }, rig.idp.addUser(pscProfessional()));
      expect(token.access_mode).to.equal('bris_de_glace');
      expect(await introspect(token.access_token)).to.include({ active: true, access_mode: 'bris_de_glace' });
      expect(decodeJwt(token.access_token).access_reason).to.equal('Patient inconscient aux urgences');
    });

    it('when centre_15 is asked by a professional who is not a regulator, then the app gets error=access_denied', async () => {
      const outcome = await authorize(rig, { scope: 'openid fhirUser user/*.rs', accessMode: 'centre_15' }, rig.idp.addUser(pscProfessional({ regulator: false })));
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('access_denied');
    });

    it('when centre_15 is asked by a SAMU regulator (Acces_Regulation_Medicale VRAI), then it is granted', async () => {
      const token = await loginForToken(rig, { scope: 'openid fhirUser user/*.rs', accessMode: 'centre_15' }, rig.idp.addUser(pscProfessional({ regulator: true })));
      expect(token.access_mode).to.equal('centre_15');
      expect(await introspect(token.access_token)).to.include({ active: true, access_mode: 'centre_15' });
    });

    it('when a patient asks for bris_de_glace, then the app gets error=access_denied', async () => {
      const outcome = await authorize(
        rig,
        { scope: 'launch/patient openid patient/*.rs', accessMode: 'bris_de_glace', accessReason: 'test' },
        rig.idp.addUser(insPatient(ins.system, ins.value))
      );
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('access_denied');
    });

    it('when the access mode is unknown, then the app gets error=invalid_request', async () => {
      const outcome = await authorize(rig, { scope: 'openid user/*.rs', accessMode: 'urgence' });
      expect(outcome.kind).to.equal('error');
      expect((outcome as Extract<AuthorizeOutcome, { kind: 'error' }>).error).to.equal('invalid_request');
    });
  });
});

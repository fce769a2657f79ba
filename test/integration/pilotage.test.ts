/**
 * `$pilotage` (DMP usage indicators) over HTTP with real tokens: exact counts over a period that
 * holds only this file's creations, feeds and reads (given as instants), no patient data in the
 * report, access for system clients with system/MeasureReport.r only, small cells withheld on demand.
 */
import { expect } from 'chai';
import type { Bundle, MeasureReport, MeasureReportGroup, OperationOutcome } from '@medplum/fhirtypes';
import { IDNPS_SYSTEM, LOINC_SYSTEM } from '../../src/dmp/identifiers.js';
import { startAppWithSettings, type AppWithSettings } from '../helpers/app-with-settings.js';
import { clientAssertion, postForm } from '../helpers/auth.js';
import { expectOutcome, FHIR_JSON, unique } from '../helpers/fhir.js';
import {
  authorisation,
  CONSULT_NOTE,
  documentOf,
  dmpPatient,
  json,
  patientToken,
  patientUser,
  practitionerRef,
  professional,
  professionalToken,
  PSYCHIATRIC_SYNTHESIS,
  type RigProfessional,
} from '../helpers/dmp-rig.js';
import { getTestServer } from '../helpers/server.js';
import { rigCreate, rigFetch, rigSystemToken, startSmartRig, type SmartRig } from '../helpers/smart-flow.js';

const SCOPE = 'system/MeasureReport.rs';
const PILOTAGE_SYSTEM = 'https://dmp-fhir-server.org/fhir/CodeSystem/dmp-pilotage';

/** The group of an indicator by its code. */
function group(report: MeasureReport, code: string): MeasureReportGroup {
  const found = report.group?.find((g) => g.code?.coding?.some((c) => c.system === PILOTAGE_SYSTEM && c.code === code));
  expect(found, `group ${code}`).to.not.equal(undefined);
  return found as MeasureReportGroup;
}

/** A stratifier's strata as `label → [score, records]` (label: the value's text). */
function strata(g: MeasureReportGroup, stratifier: string): Record<string, [number | undefined, number | undefined]> {
  const s = g.stratifier?.find((st) => st.code?.some((c) => c.coding?.some((cc) => cc.code === stratifier)));
  expect(s, `stratifier ${stratifier}`).to.not.equal(undefined);
  return Object.fromEntries((s?.stratum ?? []).map((st) => [st.value?.text as string, [st.measureScore?.value, st.population?.[0]?.count]]));
}

/** The civil date in Paris of an instant, shifted by some days. */
function parisDate(instant: Date, days: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date(instant.getTime() + days * 86_400_000));
}

describe('$pilotage (DMP usage indicators as a MeasureReport)', function () {
  this.timeout(60_000);
  let rig: SmartRig;
  let start: string;
  let end: string;
  const records = {} as Record<'fed' | 'opened', { id: string; ins: string; name?: { family?: string }[] }>;
  const pros = {} as Record<'doctor' | 'nurse' | 'unauthorised', RigProfessional>;
  const structures = { doctor: unique('S'), nurse: unique('S') };
  const tokens = {} as Record<'doctor' | 'nurse' | 'unauthorised' | 'patient' | 'insurer' | 'insurerWithout' | 'roleLess' | 'operator', string>;
  const documentIds: string[] = [];

  const pilotage = (token: string, query: string): Promise<Response> => rigFetch(rig, `$pilotage${query}`, token);
  const period = (): string => `?period-start=${encodeURIComponent(start)}&period-end=${encodeURIComponent(end)}`;

  before(async function () {
    this.timeout(180_000);
    rig = await startSmartRig();
    pros.doctor = await professional(rig, { profession: '10', speciality: 'SM54', structure: structures.doctor });
    pros.nurse = await professional(rig, { profession: '60', speciality: 'SI01', structure: structures.nurse });
    pros.unauthorised = await professional(rig, { profession: '10', speciality: 'SM54' });
    tokens.insurer = await rigSystemToken(rig, SCOPE, rig.insurer);
    tokens.insurerWithout = await rigSystemToken(rig, 'system/*.cruds', rig.insurer);
    tokens.roleLess = await rigSystemToken(rig, SCOPE, rig.roleLess);
    tokens.operator = await rigSystemToken(rig, SCOPE);
    await rigSystemToken(rig);

    // Only this block falls inside [start, end]: two DMPs opened, three feeds by professionals and one
    // by the operator, three consultations by professionals, and accesses that must not count.
    start = new Date().toISOString();
    records.fed = await dmpPatient(rig);
    records.opened = await dmpPatient(rig);
    for (const who of [pros.doctor, pros.nurse]) {
      await rigCreate(rig, authorisation(records.fed.id, practitionerRef(who.practitionerId)));
    }
    tokens.doctor = await professionalToken(rig, pros.doctor, records.fed.id);
    tokens.nurse = await professionalToken(rig, pros.nurse, records.fed.id);
    tokens.unauthorised = await professionalToken(rig, pros.unauthorised, records.opened.id);
    tokens.patient = await patientToken(rig, patientUser(rig, records.fed));
    const deposit = async (token: string, author: string): Promise<void> => {
      const res = await rigFetch(rig, 'DocumentReference', token, { method: 'POST', body: JSON.stringify(documentOf(records.fed.id, { authorId: author })) });
      documentIds.push((await json<{ id: string }>(res, 201)).id);
    };
    await deposit(tokens.doctor, pros.doctor.practitionerId);
    await deposit(tokens.doctor, pros.doctor.practitionerId);
    await deposit(tokens.nurse, pros.nurse.practitionerId);
    documentIds.push((await rigCreate(rig, documentOf(records.opened.id, { type: PSYCHIATRIC_SYNTHESIS, authorId: pros.doctor.practitionerId }))).id);
    await json(await rigFetch(rig, `DocumentReference/${documentIds[0]}`, tokens.doctor), 200);
    await json<Bundle>(await rigFetch(rig, `DocumentReference?patient=${records.fed.id}`, tokens.doctor), 200);
    await json(await rigFetch(rig, `Patient/${records.fed.id}`, tokens.nurse), 200);
    // Not consultations by professionals: a refused read, the patient's own read, the operator's read.
    expect((await rigFetch(rig, `DocumentReference?patient=${records.opened.id}`, tokens.unauthorised)).status).to.equal(403);
    await json(await rigFetch(rig, `Patient/${records.fed.id}`, tokens.patient), 200);
    await json(await rigFetch(rig, `Patient/${records.opened.id}`, await rigSystemToken(rig)), 200);
    end = new Date().toISOString();
  });

  after(async () => {
    await rig?.close();
  });

  describe('the figures', () => {
    let report: MeasureReport;

    before(async () => {
      report = await json<MeasureReport>(await pilotage(tokens.insurer, period()), 200);
    });

    it('when the insurer asks for a period, then it gets a complete summary MeasureReport of that period', () => {
      expect(report.resourceType).to.equal('MeasureReport');
      expect(report.status).to.equal('complete');
      expect(report.type).to.equal('summary');
      expect(report.period).to.deep.equal({ start, end });
      expect(report.measure).to.be.a('string');
    });

    it('when the period holds two openings, three deposits in one record and one in the other, then created 2, fed 2 and documents 4 by type', () => {
      expect(group(report, 'dmp-created').measureScore?.value).to.equal(2);
      expect(group(report, 'dmp-created').population?.[0]?.count).to.equal(2);
      expect(group(report, 'dmp-fed').measureScore?.value).to.equal(2);
      const documents = group(report, 'documents');
      expect(documents.measureScore?.value).to.equal(4);
      expect(strata(documents, 'document-type')).to.deep.equal({ [CONSULT_NOTE]: [3, undefined], [PSYCHIATRIC_SYNTHESIS]: [1, undefined] });
      const note = documents.stratifier?.[0]?.stratum?.find((s) => s.value?.text === CONSULT_NOTE);
      expect(note?.value?.coding?.[0]).to.deep.equal({ system: LOINC_SYSTEM, code: CONSULT_NOTE });
    });

    it('when professionals deposited three documents, then feeds count 3 in one record, per professional and per structure', () => {
      const feeds = group(report, 'feeds');
      expect(feeds.measureScore?.value).to.equal(3);
      expect(feeds.population?.find((p) => p.code?.coding?.[0]?.code === 'records')?.count).to.equal(1);
      expect(strata(feeds, 'professional')).to.deep.equal({
        [`Practitioner/${pros.doctor.practitionerId}`]: [2, 1],
        [`Practitioner/${pros.nurse.practitionerId}`]: [1, 1],
      });
      expect(strata(feeds, 'structure')).to.deep.equal({ [structures.doctor]: [2, 1], [structures.nurse]: [1, 1] });
      const doctor = feeds.stratifier?.[0]?.stratum?.find((s) => s.value?.text === `Practitioner/${pros.doctor.practitionerId}`);
      expect(doctor?.value?.coding?.[0]).to.deep.equal({ system: IDNPS_SYSTEM, code: pros.doctor.nationalId });
    });

    it("when professionals consulted one record three times, then consulted 1 and consultations 3 per professional and structure; refused, patients' and the operator's reads do not count", () => {
      expect(group(report, 'dmp-consulted').measureScore?.value).to.equal(1);
      const consultations = group(report, 'consultations');
      expect(consultations.measureScore?.value).to.equal(3);
      expect(strata(consultations, 'professional')).to.deep.equal({
        [`Practitioner/${pros.doctor.practitionerId}`]: [2, 1],
        [`Practitioner/${pros.nurse.practitionerId}`]: [1, 1],
      });
      expect(strata(consultations, 'structure')).to.deep.equal({ [structures.doctor]: [2, 1], [structures.nurse]: [1, 1] });
    });

    it('when the report is read, then it holds no patient id, INS, name, nor document id', () => {
      const text = JSON.stringify(report);
      for (const record of Object.values(records)) {
        expect(text).not.to.contain(record.id);
        expect(text).not.to.contain(record.ins);
        expect(text).not.to.contain(record.name?.[0]?.family as string);
      }
      for (const id of documentIds) {
        expect(text).not.to.contain(id);
      }
      expect(text).not.to.match(/Patient\//);
    });

    it('when the same period is given as whole days around it (Paris days), then every figure is at least as large', async () => {
      const days = await json<MeasureReport>(await pilotage(tokens.insurer, `?period-start=${parisDate(new Date(start), -1)}&period-end=${parisDate(new Date(end), 1)}`), 200);
      for (const code of ['dmp-created', 'dmp-fed', 'dmp-consulted', 'documents', 'feeds', 'consultations']) {
        expect(group(days, code).measureScore?.value, code).to.be.at.least(group(report, code).measureScore?.value as number);
      }
      expect(days.period).to.deep.equal({ start: parisDate(new Date(start), -1), end: parisDate(new Date(end), 1) });
    });

    it('when a period before any data is asked, then every count is 0 and no stratum is listed', async () => {
      const empty = await json<MeasureReport>(await pilotage(tokens.insurer, '?period-start=2001-01-01&period-end=2001-01-31'), 200);
      for (const code of ['dmp-created', 'dmp-fed', 'dmp-consulted', 'documents', 'feeds', 'consultations']) {
        expect(group(empty, code).measureScore?.value, code).to.equal(0);
      }
      expect(empty.group?.flatMap((g) => g.stratifier ?? []).flatMap((s) => s.stratum ?? [])).to.deep.equal([]);
    });

    it('when it is invoked by POST with a Parameters body, then the figures are the same', async () => {
      const body = { resourceType: 'Parameters', parameter: [{ name: 'period-start', valueDateTime: start }, { name: 'period-end', valueDateTime: end }] };
      const posted = await json<MeasureReport>(await rigFetch(rig, '$pilotage', tokens.insurer, { method: 'POST', body: JSON.stringify(body) }), 200);
      expect(posted.group).to.deep.equal(report.group);
    });
  });

  describe('who may ask', () => {
    it('when a system client without a DMP role or the operator holds the scope, then it gets the report too (it names no patient)', async () => {
      for (const token of [tokens.roleLess, tokens.operator]) {
        const report = await json<MeasureReport>(await pilotage(token, period()), 200);
        expect(group(report, 'dmp-created').measureScore?.value).to.equal(2);
      }
    });

    it('when the insurer has only system/*.cruds (no MeasureReport scope named), then 403 naming system/MeasureReport.r', async () => {
      const outcome = await expectOutcome(await pilotage(tokens.insurerWithout, period()), 403, 'INSUFFICIENT_SCOPE');
      expect(outcome.issue[0].details?.text).to.contain('system/MeasureReport.r');
    });

    it('when a professional or a patient asks, then 403', async () => {
      for (const token of [tokens.doctor, tokens.patient]) {
        const outcome = await expectOutcome(await pilotage(token, period()), 403, 'FORBIDDEN');
        expect(outcome.issue[0].details?.text).to.contain('system/MeasureReport.r');
      }
    });

    it('when the CapabilityStatement is read, then it lists the system operation pilotage', async () => {
      const statement = await json<{ rest: { operation?: { name: string; definition: string }[] }[] }>(await rigFetch(rig, 'metadata', undefined), 200);
      expect(statement.rest[0].operation?.map((o) => o.name)).to.include('pilotage');
    });

    it('when no token is given, then 401', async () => {
      expect((await rigFetch(rig, `$pilotage${period()}`, undefined)).status).to.equal(401);
    });
  });

  describe('parameters', () => {
    it('when the period is missing, malformed, reversed, or a parameter is unknown, then 400 naming it', async () => {
      for (const [query, expression] of [
        ['?period-start=2025-01-01', 'period-end'],
        ['?period-start=2025-13-01&period-end=2025-12-31', 'period-start'],
        ['?period-start=2025-01-01T10:00:00&period-end=2025-12-31', 'period-start'],
        ['?period-start=2025-02-01&period-end=2025-01-01', 'period-start'],
        ['?period-start=2025-01-01&period-end=2025-01-31&patient=x', 'patient'],
      ] as const) {
        const outcome = await json<OperationOutcome>(await pilotage(tokens.insurer, query), 400);
        expect(outcome.issue[0].expression, query).to.include(expression);
      }
    });
  });

  describe('with small cells withheld (PILOTAGE_MIN_CELL_COUNT=2)', () => {
    let app: AppWithSettings;
    let token: string;

    before(async () => {
      app = await startAppWithSettings({ PILOTAGE_MIN_CELL_COUNT: '2' });
      const { clients } = await getTestServer();
      const tokenUrl = app.fhirBase.replace(/\/fhir$/, '/auth/token');
      const res = await postForm(tokenUrl, {
        grant_type: 'client_credentials',
        scope: SCOPE,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(tokenUrl, clients.backend.clientId, clients.backend.key),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      token = res.body.access_token as string;
    });

    after(async () => {
      await app?.close();
    });

    it('when every professional stratum counts one record, then they are pooled into one "other" stratum; a lone small document type is withheld; totals stay', async () => {
      const res = await fetch(`${app.fhirBase}/$pilotage${period()}`, { headers: { authorization: `Bearer ${token}`, accept: FHIR_JSON } });
      const report = await json<MeasureReport>(res, 200);
      const consultations = group(report, 'consultations');
      expect(consultations.measureScore?.value).to.equal(3);
      const pooled = consultations.stratifier?.flatMap((s) => s.stratum ?? []) ?? [];
      expect(pooled.map((s) => [s.value?.coding?.[0]?.code, s.measureScore?.value])).to.deep.equal([
        ['other', 3],
        ['other', 3],
      ]);
      expect(JSON.stringify(consultations)).not.to.contain(pros.doctor.practitionerId);
      expect(strata(group(report, 'documents'), 'document-type')).to.deep.equal({ [CONSULT_NOTE]: [3, undefined] });
      expect(group(report, 'documents').measureScore?.value).to.equal(4);
    });
  });
});

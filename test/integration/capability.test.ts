import { expect } from 'chai';
import { getSearchParameters } from '@medplum/core';
import type {
  Binary,
  Bundle,
  CapabilityStatement,
  CapabilityStatementRestResource,
  Consent,
  DocumentReference,
  List,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  RelatedPerson,
  Resource,
} from '@medplum/fhirtypes';
import { RESOURCE_TYPES, SERVER_WRITTEN_TYPES, type SupportedType } from '../../src/fhir/resource-types.js';
import { SUPPORTED_SEARCH_PARAMS } from '../../src/fhir/search/parameters.js';
import { asBody, expectOutcome, FHIR_JSON, fhirClient, fhirFetch, testPatient, unique } from '../helpers/fhir.js';
import { getTestServer } from '../helpers/server.js';

const TEST_ID_SYSTEM = 'urn:test:capability';

/** A syntactically valid search value for each search parameter type. */
const VALUE_OF_TYPE: Readonly<Record<string, string>> = {
  token: 'x',
  string: 'x',
  date: '2020',
  reference: 'Patient/x',
};

/** Interactions the CapabilityStatement lists for a type a client may write. */
const ALL_INTERACTIONS = ['create', 'delete', 'history-instance', 'history-type', 'read', 'search-type', 'update', 'vread'];
const READ_ONLY_INTERACTIONS = ['history-instance', 'history-type', 'read', 'search-type', 'vread'];

/** A minimal valid resource of each client-writable type (references need not resolve). */
function minimalResource(type: SupportedType, marker: string): Resource {
  const patient = { reference: `Patient/${marker}` };
  switch (type) {
    case 'Patient':
      return testPatient();
    case 'Practitioner':
      return { resourceType: 'Practitioner', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], name: [{ family: marker }] } satisfies Practitioner;
    case 'Organization':
      return { resourceType: 'Organization', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], name: marker } satisfies Organization;
    case 'PractitionerRole':
      return { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${marker}` } } satisfies PractitionerRole;
    case 'DocumentReference':
      return {
        resourceType: 'DocumentReference',
        identifier: [{ system: TEST_ID_SYSTEM, value: marker }],
        status: 'current',
        type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
        subject: patient,
        content: [{ attachment: { contentType: 'text/plain' } }],
      } satisfies DocumentReference;
    case 'Binary':
      return { resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from(marker).toString('base64') } satisfies Binary;
    case 'List':
      return { resourceType: 'List', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], status: 'current', mode: 'working', subject: patient } satisfies List;
    case 'Consent':
      return {
        resourceType: 'Consent',
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient,
        dateTime: '2024-03-01T10:00:00Z',
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
        provision: { type: 'permit' },
      } satisfies Consent;
    case 'RelatedPerson':
      return { resourceType: 'RelatedPerson', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], active: true, patient } satisfies RelatedPerson;
    default:
      throw new Error(`no minimal resource for ${type}`);
  }
}

async function json<T>(res: Response, status: number, what: string): Promise<T> {
  const text = await res.text();
  expect(res.status, `${what}: ${text.slice(0, 600)}`).to.equal(status);
  return JSON.parse(text) as T;
}

describe('CapabilityStatement (GET [base]/metadata)', () => {
  let statement: CapabilityStatement;
  let resources: Map<string, CapabilityStatementRestResource>;

  before(async () => {
    await getTestServer();
    // No Authorization header, no Accept: metadata is public.
    const { fhirBase } = await getTestServer();
    const res = await fetch(`${fhirBase}/metadata`);
    statement = await json<CapabilityStatement>(res, 200, 'metadata');
    resources = new Map((statement.rest?.[0]?.resource ?? []).map((r) => [r.type, r]));
  });

  function entryOf(type: string): CapabilityStatementRestResource {
    const entry = resources.get(type);
    expect(entry, `CapabilityStatement entry for ${type}`).to.not.equal(undefined);
    return entry as CapabilityStatementRestResource;
  }

  describe('the statement itself', () => {
    it('when metadata is read without credentials, then it answers a FHIR JSON CapabilityStatement', async () => {
      const { fhirBase } = await getTestServer();
      const res = await fetch(`${fhirBase}/metadata`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.contain(FHIR_JSON);
      expect(statement.resourceType).to.equal('CapabilityStatement');
    });

    it('when metadata is read with fhir-kit-client, then it is the same statement', async () => {
      const client = await fhirClient();
      const viaClient = (await client.capabilityStatement()) as unknown as CapabilityStatement;
      expect(viaClient.resourceType).to.equal('CapabilityStatement');
      expect(viaClient.rest?.[0]?.resource?.map((r) => r.type)).to.deep.equal(statement.rest?.[0]?.resource?.map((r) => r.type));
    });

    it('when metadata is read, then it declares FHIR 4.0.1, kind instance, an active status and a date', () => {
      expect(statement.fhirVersion).to.equal('4.0.1');
      expect(statement.kind).to.equal('instance');
      expect(statement.status).to.equal('active');
      expect(Number.isNaN(Date.parse(statement.date as string))).to.equal(false);
    });

    it('when metadata is read, then its formats are FHIR JSON and FHIR XML', () => {
      expect(statement.format).to.include.members(['application/fhir+json', 'application/fhir+xml']);
      expect((statement.format ?? []).some((f) => f.includes('turtle'))).to.equal(false);
    });

    it('when metadata is read, then it describes this server at its FHIR base', async () => {
      const { fhirBase } = await getTestServer();
      expect(statement.implementation?.url).to.equal(fhirBase);
    });

    it('when metadata is read, then it has exactly one rest entry, in server mode', () => {
      expect(statement.rest).to.have.length(1);
      expect(statement.rest?.[0].mode).to.equal('server');
    });

    it('when metadata is read, then the system interactions are transaction and batch', () => {
      expect(statement.rest?.[0].interaction?.map((i) => i.code)).to.have.members(['transaction', 'batch']);
    });

    it('when metadata is read, then it lists every served resource type exactly once, plus the read-only habilitation matrix and operation definitions', () => {
      const types = (statement.rest?.[0].resource ?? []).map((r) => r.type);
      expect(types).to.have.members([...RESOURCE_TYPES, 'ConceptMap', 'OperationDefinition']);
      expect(new Set(types).size).to.equal(types.length);
    });

    it('when metadata lists ConceptMap, then only its read works: the matrix is served, anything else is refused', async () => {
      const entry = resources.get('ConceptMap');
      expect(entry?.interaction?.map((i) => i.code)).to.deep.equal(['read']);
      expect((await fhirFetch('ConceptMap/dmp-habilitation-matrix')).status).to.equal(200);
      expect((await fhirFetch('ConceptMap/dmp-habilitation-matrix', { method: 'DELETE' })).status).to.equal(405);
    });

    it('when metadata names an operation definition of this server, then it is served at OperationDefinition/{id} with that url and code; FHIR\'s own are HL7\'s', async () => {
      const rest = statement.rest?.[0];
      const named = [...(rest?.operation ?? []), ...(rest?.resource ?? []).flatMap((r) => r.operation ?? [])];
      const ours = named.filter((op) => op.definition.startsWith('https://dmp-fhir-server.org/'));
      expect(ours.map((op) => op.name)).to.include.members(['verify-audit', 'close', 'reopen', 'destroy', 'pilotage']);
      for (const op of ours) {
        const id = op.definition.split('/').pop() as string;
        const res = await fhirFetch(`OperationDefinition/${id}`);
        expect(res.status, op.definition).to.equal(200);
        const def = (await res.json()) as { resourceType: string; url: string; code: string };
        expect(def).to.include({ resourceType: 'OperationDefinition', url: op.definition, code: op.name });
      }
      expect(named.filter((op) => !op.definition.startsWith('https://dmp-fhir-server.org/')).every((op) => op.definition.startsWith('http://hl7.org/fhir/OperationDefinition/'))).to.equal(true);
      expect((await fhirFetch('OperationDefinition/close', { method: 'PUT', body: '{}' })).status).to.equal(405);
      await expectOutcome(await fhirFetch('OperationDefinition/nothing'), 404, 'NOT_FOUND');
    });
  });

  describe('search parameters: listed ⇔ accepted', () => {
    for (const type of RESOURCE_TYPES) {
      it(`when ${type} is searched with each parameter it lists, then each search answers 200`, async () => {
        const failures: string[] = [];
        for (const param of entryOf(type).searchParam ?? []) {
          const value = VALUE_OF_TYPE[param.type];
          expect(value, `${type}.${param.name} has a search type this test knows (${param.type})`).to.be.a('string');
          const res = await fhirFetch(`${type}?${encodeURIComponent(param.name)}=${encodeURIComponent(value)}&_count=1`);
          if (res.status !== 200) {
            failures.push(`${param.name}=${value} → ${res.status} ${(await res.text()).slice(0, 300)}`);
          } else {
            await res.body?.cancel();
          }
        }
        expect(failures).to.deep.equal([]);
      });

      it(`when the CapabilityStatement is read, then ${type} lists _id, _lastUpdated and every supported parameter, with its R4 type`, () => {
        const listed = new Map((entryOf(type).searchParam ?? []).map((p) => [p.name, p.type]));
        expect([...listed.keys()]).to.have.members(['_id', '_lastUpdated', ...SUPPORTED_SEARCH_PARAMS[type]]);
        expect(listed.get('_id')).to.equal('token');
        expect(listed.get('_lastUpdated')).to.equal('date');
        for (const code of SUPPORTED_SEARCH_PARAMS[type]) {
          expect(listed.get(code), `${type}.${code}`).to.equal(getSearchParameters(type)?.[code]?.type);
        }
      });

      it(`when ${type} is searched with an R4 parameter it does not list, then the answer is 400 UNKNOWN_SEARCH_PARAM`, async () => {
        const listed = new Set((entryOf(type).searchParam ?? []).map((p) => p.name));
        const unlisted = [
          ...Object.keys(getSearchParameters(type) ?? {}).filter((code) => !listed.has(code)),
          '_tag',
          '_profile',
          '_security',
          '_text',
          '_content',
          '_has:Observation:patient:code',
        ];
        const accepted: string[] = [];
        for (const code of [...new Set(unlisted)]) {
          const res = await fhirFetch(`${type}?${encodeURIComponent(code)}=x`);
          if (res.status !== 400) {
            accepted.push(`${code} → ${res.status}`);
          } else {
            await expectOutcome(res, 400, 'UNKNOWN_SEARCH_PARAM');
          }
        }
        expect(accepted).to.deep.equal([]);
      });
    }

    it('when DocumentReference is searched by name (a Patient parameter), then the answer is 400 UNKNOWN_SEARCH_PARAM', async () => {
      await expectOutcome(await fhirFetch('DocumentReference?name=x'), 400, 'UNKNOWN_SEARCH_PARAM');
    });

    it('when Patient is searched by _tag, then the answer is 400 UNKNOWN_SEARCH_PARAM', async () => {
      await expectOutcome(await fhirFetch('Patient?_tag=x'), 400, 'UNKNOWN_SEARCH_PARAM');
    });

    it('when Binary is searched, then only _id and _lastUpdated are listed and accepted', async () => {
      expect((entryOf('Binary').searchParam ?? []).map((p) => p.name)).to.have.members(['_id', '_lastUpdated']);
      await expectOutcome(await fhirFetch('Binary?contenttype=text/plain'), 400, 'UNKNOWN_SEARCH_PARAM');
    });
  });

  describe('_include and _revinclude', () => {
    for (const type of RESOURCE_TYPES) {
      it(`when ${type} is searched with each listed searchInclude and searchRevInclude, then each search answers 200`, async () => {
        const entry = entryOf(type);
        const failures: string[] = [];
        const uses = [
          ...(entry.searchInclude ?? []).map((v) => `_include=${encodeURIComponent(v)}`),
          ...(entry.searchRevInclude ?? []).map((v) => `_revinclude=${encodeURIComponent(v)}`),
        ];
        for (const use of uses) {
          const res = await fhirFetch(`${type}?_id=${unique('none')}&${use}`);
          if (res.status !== 200) {
            failures.push(`${use} → ${res.status} ${(await res.text()).slice(0, 300)}`);
          } else {
            await res.body?.cancel();
          }
        }
        expect(failures).to.deep.equal([]);
      });
    }

    it('when the CapabilityStatement is read, then searchInclude names exactly the reference parameters of each type', () => {
      for (const type of RESOURCE_TYPES) {
        const refs = (entryOf(type).searchParam ?? []).filter((p) => p.type === 'reference').map((p) => `${type}:${p.name}`);
        expect(entryOf(type).searchInclude ?? [], type).to.have.members(refs);
      }
    });

    it('when a DocumentReference is searched with its listed _include=DocumentReference:subject, then the Patient comes as an include', async () => {
      const client = await fhirClient();
      const patient = (await client.create({ resourceType: 'Patient', body: asBody(testPatient()) })) as unknown as Patient;
      const doc = { ...(minimalResource('DocumentReference', unique('inc')) as DocumentReference), subject: { reference: `Patient/${patient.id}` } };
      const created = await json<DocumentReference>(await fhirFetch('DocumentReference', { method: 'POST', body: JSON.stringify(doc) }), 201, 'create');
      const bundle = await json<Bundle>(await fhirFetch(`DocumentReference?_id=${created.id}&_include=DocumentReference:subject`), 200, 'search');
      expect(bundle.entry?.map((e) => [e.search?.mode, e.resource?.resourceType])).to.deep.equal([
        ['match', 'DocumentReference'],
        ['include', 'Patient'],
      ]);
    });

    it('when _include names a parameter that is not a listed searchInclude, then the answer is 400', async () => {
      await expectOutcome(await fhirFetch('DocumentReference?_include=DocumentReference:type'), 400, 'INVALID_SEARCH_VALUE');
    });
  });

  describe('interactions: listed ⇔ working', () => {
    for (const type of RESOURCE_TYPES) {
      const serverWritten = SERVER_WRITTEN_TYPES.includes(type);
      it(`when the CapabilityStatement is read, then ${type} lists ${serverWritten ? 'only the read interactions' : 'every interaction'}`, () => {
        const codes = (entryOf(type).interaction ?? []).map((i) => i.code);
        // PATCH serves the DMP metadata update (TD3.3) of documents only.
        const writable = type === 'DocumentReference' ? [...ALL_INTERACTIONS, 'patch'] : ALL_INTERACTIONS;
        expect(codes).to.have.members(serverWritten ? READ_ONLY_INTERACTIONS : writable);
        expect(entryOf(type).updateCreate).to.equal(!serverWritten);
        expect(entryOf(type).conditionalCreate).to.equal(!serverWritten);
      });

      if (serverWritten) {
        it(`when a client tries the unlisted create, update and delete on ${type}, then each answers 405`, async () => {
          const id = unique('ae');
          const body = JSON.stringify({ resourceType: type, id });
          await expectOutcome(await fhirFetch(type, { method: 'POST', body }), 405, 'METHOD_NOT_ALLOWED');
          await expectOutcome(await fhirFetch(`${type}/${id}`, { method: 'PUT', body }), 405, 'METHOD_NOT_ALLOWED');
          await expectOutcome(await fhirFetch(`${type}/${id}`, { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED');
        });

        it(`when a client uses the listed read interactions on ${type}, then they answer (200 search and history, 404 unknown id)`, async () => {
          const id = unique('ae');
          await json<Bundle>(await fhirFetch(`${type}?_id=${id}`), 200, 'search-type');
          await json<Bundle>(await fhirFetch(`${type}/_history?_count=1`), 200, 'history-type');
          await expectOutcome(await fhirFetch(`${type}/${id}`), 404, 'NOT_FOUND');
          await expectOutcome(await fhirFetch(`${type}/${id}/_history`), 404, 'NOT_FOUND');
          await expectOutcome(await fhirFetch(`${type}/${id}/_history/1`), 404, 'NOT_FOUND');
        });

        it(`when the CapabilityStatement is read, then ${type} offers no $validate (clients never write it)`, () => {
          expect(entryOf(type).operation ?? []).to.deep.equal([]);
        });
        continue;
      }

      it(`when a client uses every interaction listed for ${type}, then each one works`, async () => {
        const marker = unique('cap');
        const resource = minimalResource(type, marker);
        const created = await json<Resource>(await fhirFetch(type, { method: 'POST', body: JSON.stringify(resource) }), 201, 'create');
        const id = created.id as string;
        await json<Resource>(await fhirFetch(`${type}/${id}`), 200, 'read');
        await json<Resource>(await fhirFetch(`${type}/${id}/_history/1`), 200, 'vread');
        const updated = await json<Resource>(
          await fhirFetch(`${type}/${id}`, { method: 'PUT', body: JSON.stringify({ ...resource, id }) }),
          200,
          'update'
        );
        expect(updated.meta?.versionId).to.equal('2');
        const search = await json<Bundle>(await fhirFetch(`${type}?_id=${id}`), 200, 'search-type');
        expect(search.entry?.map((e) => e.resource?.id)).to.deep.equal([id]);
        const posted = await json<Bundle>(
          await fhirFetch(`${type}/_search`, { method: 'POST', body: `_id=${id}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
          200,
          'search-type (POST)'
        );
        expect(posted.entry?.map((e) => e.resource?.id)).to.deep.equal([id]);
        const history = await json<Bundle>(await fhirFetch(`${type}/${id}/_history`), 200, 'history-instance');
        expect(history.entry).to.have.length(2);
        await json<Bundle>(await fhirFetch(`${type}/_history?_count=1`), 200, 'history-type');
        await json<Resource>(await fhirFetch(`${type}/${id}`, { method: 'DELETE' }), 200, 'delete');
        await expectOutcome(await fhirFetch(`${type}/${id}`), 410, 'GONE');
      });

      it(`when the CapabilityStatement says ${type} supports update-create, then a PUT to a new id creates (201)`, async () => {
        expect(entryOf(type).updateCreate).to.equal(true);
        const id = unique('new');
        const res = await fhirFetch(`${type}/${id}`, { method: 'PUT', body: JSON.stringify({ ...minimalResource(type, unique('cap')), id }) });
        await json<Resource>(res, 201, 'update-create');
      });

      it(`when the CapabilityStatement lists $validate for ${type}, then $validate accepts a valid ${type}`, async () => {
        expect((entryOf(type).operation ?? []).map((o) => o.name)).to.deep.equal(type === 'Patient' ? ['validate', 'verify-audit', 'close', 'reopen', 'destroy', 'everything'] : ['validate']);
        const res = await fhirFetch(`${type}/$validate`, { method: 'POST', body: JSON.stringify(minimalResource(type, unique('val'))) });
        await json<Resource>(res, 200, '$validate');
      });
    }

    it('when the CapabilityStatement says conditionalRead not-match, then a read with the current etag in If-None-Match answers 304', async () => {
      expect(entryOf('Organization').conditionalRead).to.equal('not-match');
      const created = await json<Resource>(
        await fhirFetch('Organization', { method: 'POST', body: JSON.stringify(minimalResource('Organization', unique('cr'))) }),
        201,
        'create'
      );
      const res = await fhirFetch(`Organization/${created.id}`, { headers: { 'if-none-match': 'W/"1"' } });
      expect(res.status).to.equal(304);
    });

    it('when the CapabilityStatement says versioned-update, then an update with a stale If-Match answers 412', async () => {
      expect(entryOf('Organization').versioning).to.equal('versioned-update');
      const resource = minimalResource('Organization', unique('vu'));
      const created = await json<Resource>(await fhirFetch('Organization', { method: 'POST', body: JSON.stringify(resource) }), 201, 'create');
      const body = JSON.stringify({ ...resource, id: created.id });
      await json<Resource>(await fhirFetch(`Organization/${created.id}`, { method: 'PUT', body, headers: { 'if-match': 'W/"1"' } }), 200, 'update');
      await expectOutcome(await fhirFetch(`Organization/${created.id}`, { method: 'PUT', body, headers: { 'if-match': 'W/"1"' } }), 412, 'PRECONDITION_FAILED');
    });

    it('when the CapabilityStatement says conditional update and delete are not supported, then PUT and DELETE on a search URL answer 405', async () => {
      expect(entryOf('Organization').conditionalUpdate).to.equal(false);
      expect(entryOf('Organization').conditionalDelete).to.equal('not-supported');
      const body = JSON.stringify(minimalResource('Organization', unique('cu')));
      await expectOutcome(await fhirFetch(`Organization?identifier=${TEST_ID_SYSTEM}|x`, { method: 'PUT', body }), 405, 'METHOD_NOT_ALLOWED');
      await expectOutcome(await fhirFetch(`Organization?identifier=${TEST_ID_SYSTEM}|x`, { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED');
    });

    it('when the CapabilityStatement declares a profile for Patient, then it is the profile the server enforces on writes', async () => {
      const profile = entryOf('Patient').profile as string;
      expect(profile).to.match(/dmp-patient-ins$/);
      const created = await json<Resource>(await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) }), 201, 'create');
      expect(created.meta?.profile).to.include(profile);
    });
  });
});

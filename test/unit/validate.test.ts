import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type {
  AuditEvent,
  Binary,
  Consent,
  DocumentReference,
  Patient,
  Practitioner,
  Resource,
} from '@medplum/fhirtypes';
import { CATALOGUE, FhirError } from '../../src/fhir/outcomes.js';
import { loadProfiles, ourProfileFor, PROFILE_URLS, validateForWrite } from '../../src/fhir/validate.js';

const INS_NIR = 'urn:oid:1.2.250.1.213.1.4.8';

function patient(): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: INS_NIR, value: '180017510100052' }],
    name: [{ use: 'official', family: 'MARTIN', given: ['Anne'] }],
    gender: 'female',
    birthDate: '1980-01-01',
  };
}

function documentReference(): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
    subject: { reference: 'Patient/p1' },
    content: [{ attachment: { contentType: 'application/pdf', url: 'Binary/b1' } }],
  };
}

function consent(): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/p1' },
    dateTime: '2024-05-01T10:00:00Z',
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'deny', actor: [{ role: { text: 'blocked' }, reference: { reference: 'Practitioner/pr1' } }] },
  };
}

function auditEvent(): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    action: 'R',
    recorded: '2024-05-01T10:00:00Z',
    outcome: '0',
    agent: [{ who: { reference: 'Practitioner/pr1' }, requestor: true }],
    source: { observer: { display: 'dmp-fhir-server' } },
    entity: [{ what: { reference: 'Patient/p1' } }],
  };
}

function binary(bytes: number): Binary {
  return { resourceType: 'Binary', contentType: 'application/pdf', data: randomBytes(bytes).toString('base64') };
}

/** Asserts validateForWrite throws the given kind, with an issue pointing at `expression`. */
function expectRejected(
  resource: Resource,
  kind: 'INVALID_RESOURCE' | 'PROFILE_VIOLATION',
  expression: string
): FhirError {
  let caught: unknown;
  try {
    validateForWrite(resource);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a FhirError').to.be.instanceOf(FhirError);
  const err = caught as FhirError;
  expect(err.status).to.equal(CATALOGUE[kind].status);
  const issues = err.outcome.issue;
  expect(issues.every((i) => i.details?.coding?.[0]?.code === CATALOGUE[kind].id)).to.equal(true);
  expect(issues.flatMap((i) => i.expression ?? []), err.message).to.include(expression);
  return err;
}

describe('fhir/validate', function () {
  before(function () {
    this.timeout(60_000); // indexing the R4 base definitions takes about a second
    loadProfiles();
  });

  describe('profiles', function () {
    it('maps each profiled type to its canonical url', function () {
      expect(PROFILE_URLS).to.deep.equal({
        Patient: 'https://dmp-fhir-server.org/fhir/StructureDefinition/dmp-patient-ins',
        DocumentReference: 'https://dmp-fhir-server.org/fhir/StructureDefinition/dmp-document-reference',
        Consent: 'https://dmp-fhir-server.org/fhir/StructureDefinition/dmp-consent',
        AuditEvent: 'https://dmp-fhir-server.org/fhir/StructureDefinition/dmp-audit-event',
      });
    });

    it('returns the loaded profile for a type, with a snapshot', function () {
      for (const [type, url] of Object.entries(PROFILE_URLS)) {
        const sd = ourProfileFor(type);
        expect(sd?.url).to.equal(url);
        expect(sd?.type).to.equal(type);
        expect(sd?.snapshot?.element?.length).to.be.greaterThan(0);
      }
      expect(ourProfileFor('Practitioner')).to.equal(undefined);
    });

    it('is idempotent', function () {
      loadProfiles();
      expect(ourProfileFor('Patient')?.id).to.equal('dmp-patient-ins');
    });
  });

  describe('valid resources', function () {
    const valid: Record<string, () => Resource> = {
      Patient: patient,
      DocumentReference: documentReference,
      Consent: consent,
      AuditEvent: auditEvent,
      'Practitioner (no profile of ours)': (): Practitioner => ({
        resourceType: 'Practitioner',
        name: [{ family: 'X' }],
      }),
      Binary: () => binary(64),
    };
    for (const [name, make] of Object.entries(valid)) {
      it(`accepts a valid ${name}`, function () {
        expect(() => validateForWrite(make())).not.to.throw();
      });
    }

    it('accepts a DocumentReference whose subject is a contained Patient', function () {
      const doc = documentReference();
      doc.contained = [{ resourceType: 'Patient', id: 'p', name: [{ family: 'X' }] }];
      doc.subject = { reference: '#p' };
      expect(() => validateForWrite(doc)).not.to.throw();
    });

    it('ignores profiles that are not ours in meta.profile', function () {
      const p = patient();
      p.meta = { profile: ['https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins'] };
      expect(() => validateForWrite(p)).not.to.throw();
    });

    it('accepts a 1 MB Binary quickly (data is checked outside the base validator)', function () {
      const big = binary(1024 * 1024);
      const start = performance.now();
      validateForWrite(big);
      expect(performance.now() - start).to.be.lessThan(500);
      expect(big.data?.length).to.be.greaterThan(1024 * 1024); // over the validator's 1 MB string cap
    });
  });

  describe('base R4 rules (400)', function () {
    it('rejects an unknown property, pointing at it', function () {
      const p = { ...patient(), nickname: 'Annie' } as Patient;
      expectRejected(p, 'INVALID_RESOURCE', 'Patient.nickname');
    });

    it('rejects an unknown nested property', function () {
      const p = patient();
      (p.name?.[0] as Record<string, unknown>).maiden = 'X';
      expectRejected(p, 'INVALID_RESOURCE', 'Patient.name[0].maiden');
    });

    it('rejects a malformed date', function () {
      expectRejected({ ...patient(), birthDate: '1980-13-01' }, 'INVALID_RESOURCE', 'Patient.birthDate');
    });

    it('rejects a missing element the base spec requires', function () {
      const doc = documentReference() as Partial<DocumentReference>;
      delete doc.status;
      expectRejected(doc as DocumentReference, 'INVALID_RESOURCE', 'DocumentReference.status');
    });

    it('rejects a failed base invariant (Consent ppc-1: policy or policyRule)', function () {
      const c = consent();
      delete c.policyRule;
      expectRejected(c, 'INVALID_RESOURCE', 'Consent');
    });

    it('checks base rules before profiles', function () {
      const p = { ...patient(), birthDate: undefined, nickname: 'Annie' } as Patient;
      const err = expectRejected(p, 'INVALID_RESOURCE', 'Patient.nickname');
      expect(err.outcome.issue.flatMap((i) => i.expression)).not.to.include('Patient.birthDate');
    });

    it('rejects a Binary whose data is not base64', function () {
      expectRejected({ ...binary(16), data: 'not base64!' }, 'INVALID_RESOURCE', 'Binary.data');
    });
  });

  describe('dmp-patient-ins (422)', function () {
    it('requires birthDate', function () {
      expectRejected({ ...patient(), birthDate: undefined }, 'PROFILE_VIOLATION', 'Patient.birthDate');
    });

    it('requires gender', function () {
      expectRejected({ ...patient(), gender: undefined }, 'PROFILE_VIOLATION', 'Patient.gender');
    });

    it('requires an identifier', function () {
      expectRejected({ ...patient(), identifier: undefined }, 'PROFILE_VIOLATION', 'Patient.identifier');
    });

    it('requires system and value on every identifier', function () {
      const p = patient();
      p.identifier?.push({ system: INS_NIR });
      expectRejected(p, 'PROFILE_VIOLATION', 'Patient.identifier[1].value');
    });

    it('requires a family name', function () {
      expectRejected({ ...patient(), name: [{ given: ['Anne'] }] }, 'PROFILE_VIOLATION', 'Patient.name[0].family');
    });

    it('names the profile in the issue text', function () {
      const err = expectRejected({ ...patient(), birthDate: undefined }, 'PROFILE_VIOLATION', 'Patient.birthDate');
      expect(err.outcome.issue[0].details?.text).to.include(PROFILE_URLS.Patient);
    });
  });

  describe('dmp-document-reference (422)', function () {
    it('requires a subject', function () {
      expectRejected({ ...documentReference(), subject: undefined }, 'PROFILE_VIOLATION', 'DocumentReference.subject');
    });

    it('requires the subject to be a Patient', function () {
      const doc = { ...documentReference(), subject: { reference: 'Group/g1' } };
      expectRejected(doc, 'PROFILE_VIOLATION', 'DocumentReference.subject');
    });

    it('requires a type', function () {
      expectRejected({ ...documentReference(), type: undefined }, 'PROFILE_VIOLATION', 'DocumentReference.type');
    });

    it('requires a contentType on every attachment (inside a backbone element)', function () {
      const doc = documentReference();
      doc.content.push({ attachment: { url: 'Binary/b2' } });
      expectRejected(doc, 'PROFILE_VIOLATION', 'DocumentReference.content[1].attachment.contentType');
    });
  });

  describe('dmp-consent (422)', function () {
    it('requires dateTime', function () {
      expectRejected({ ...consent(), dateTime: undefined }, 'PROFILE_VIOLATION', 'Consent.dateTime');
    });

    it('requires a provision', function () {
      expectRejected({ ...consent(), provision: undefined }, 'PROFILE_VIOLATION', 'Consent.provision');
    });

    it('requires provision.type', function () {
      const c = { ...consent(), provision: { period: { start: '2024-01-01' } } };
      expectRejected(c, 'PROFILE_VIOLATION', 'Consent.provision.type');
    });
  });

  describe('dmp-audit-event (422)', function () {
    it('requires who on every agent', function () {
      const e = auditEvent();
      e.agent.push({ requestor: false, name: 'server' });
      expectRejected(e, 'PROFILE_VIOLATION', 'AuditEvent.agent[1].who');
    });

    it('requires an entity', function () {
      expectRejected({ ...auditEvent(), entity: undefined }, 'PROFILE_VIOLATION', 'AuditEvent.entity');
    });

    it('requires an outcome', function () {
      expectRejected({ ...auditEvent(), outcome: undefined }, 'PROFILE_VIOLATION', 'AuditEvent.outcome');
    });
  });

  describe('meta.profile', function () {
    it('validates against our profile listed in meta.profile, once', function () {
      const p = { ...patient(), birthDate: undefined };
      p.meta = { profile: [`${PROFILE_URLS.Patient}|0.1.0`] };
      const err = expectRejected(p, 'PROFILE_VIOLATION', 'Patient.birthDate');
      expect(err.outcome.issue).to.have.length(1);
    });

    it('rejects our profile claimed by a resource of another type', function () {
      const pr: Practitioner = { resourceType: 'Practitioner', meta: { profile: [PROFILE_URLS.Patient] } };
      expectRejected(pr, 'PROFILE_VIOLATION', 'Practitioner.meta.profile[0]');
    });

    it('rejects an unknown profile in our namespace', function () {
      const p = patient();
      p.meta = { profile: ['https://dmp-fhir-server.org/fhir/StructureDefinition/dmp-nope'] };
      expectRejected(p, 'PROFILE_VIOLATION', 'Patient.meta.profile[0]');
    });
  });
});

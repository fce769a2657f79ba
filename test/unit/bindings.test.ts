import { expect } from 'chai';
import type {
  Consent,
  DocumentReference,
  List,
  OperationOutcomeIssue,
  Patient,
  PractitionerRole,
  Resource,
} from '@medplum/fhirtypes';
import { buildDemoBundle } from '../../scripts/seed/demo-bundle.js';
import { checkRequiredBindings, loadBindings, requiredBindings } from '../../src/fhir/bindings.js';
import { CATALOGUE, FhirError } from '../../src/fhir/outcomes.js';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import { loadProfiles, validateForWrite } from '../../src/fhir/validate.js';

const INS_NIR = 'urn:oid:1.2.250.1.213.1.4.8';
const GENDER_VS = 'http://hl7.org/fhir/ValueSet/administrative-gender';

function patient(overrides: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ use: 'official', system: INS_NIR, value: '180017510100052' }],
    name: [{ use: 'official', family: 'MARTIN', given: ['Anne'] }],
    telecom: [{ system: 'phone', value: '0102030405', use: 'home' }],
    address: [{ use: 'home', type: 'physical', city: 'Paris' }],
    gender: 'female',
    birthDate: '1980-01-01',
    ...overrides,
  };
}

function documentReference(overrides: Partial<DocumentReference> = {}): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'final',
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
    subject: { reference: 'Patient/p1' },
    relatesTo: [{ code: 'replaces', target: { reference: 'DocumentReference/d0' } }],
    content: [{ attachment: { contentType: 'application/pdf', url: 'Binary/b1' } }],
    ...overrides,
  };
}

function consent(overrides: Partial<Consent> = {}): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/p1' },
    dateTime: '2024-05-01T10:00:00Z',
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit', provision: [{ type: 'deny' }] },
    ...overrides,
  };
}

function list(overrides: Partial<List> = {}): List {
  return { resourceType: 'List', status: 'current', mode: 'working', subject: { reference: 'Patient/p1' }, ...overrides };
}

/** The expressions of the issues, in order. */
function expressions(issues: OperationOutcomeIssue[]): string[] {
  return issues.flatMap((i) => i.expression ?? []);
}

/** Asserts exactly one issue, at `expression`, and returns it. */
function single(issues: OperationOutcomeIssue[], expression: string): OperationOutcomeIssue {
  expect(expressions(issues), JSON.stringify(issues)).to.deep.equal([expression]);
  return issues[0];
}

describe('fhir/bindings (required value-set bindings of code elements)', function () {
  before(function () {
    this.timeout(60_000); // reading the R4 definitions and value sets takes about half a second
    loadBindings();
  });

  describe('resource-level codes', function () {
    it('when Patient.gender is not an administrative-gender code, then one code-invalid error names the value, the codes and Patient.gender', function () {
      const issue = single(checkRequiredBindings(patient({ gender: 'feminine' as Patient['gender'] })), 'Patient.gender');
      expect(issue.severity).to.equal('error');
      expect(issue.code).to.equal('code-invalid');
      expect(issue.details?.text).to.contain('"feminine"').and.contain(GENDER_VS).and.contain('male | female | other | unknown');
    });

    it('when DocumentReference.status is not a document-reference-status code, then it is reported at DocumentReference.status', function () {
      const issue = single(checkRequiredBindings(documentReference({ status: 'bogus' as DocumentReference['status'] })), 'DocumentReference.status');
      expect(issue.details?.text).to.contain('"bogus"').and.contain('current | superseded | entered-in-error');
    });

    it('when Consent.status is not a consent-state code, then it is reported at Consent.status', function () {
      single(checkRequiredBindings(consent({ status: 'approved' as Consent['status'] })), 'Consent.status');
    });

    it('when List.mode and List.status are both wrong, then both are reported', function () {
      const issues = checkRequiredBindings(list({ status: 'open' as List['status'], mode: 'draft' as List['mode'] }));
      expect(expressions(issues)).to.have.members(['List.status', 'List.mode']);
    });

    it('when a code differs only by case, then it is rejected (codes are case-sensitive)', function () {
      single(checkRequiredBindings(patient({ gender: 'Female' as Patient['gender'] })), 'Patient.gender');
    });
  });

  describe('codes inside data types and backbone elements', function () {
    it('when HumanName.use is wrong in the second name, then the expression indexes that name', function () {
      const name = [{ use: 'official' as const, family: 'MARTIN' }, { use: 'birth' as 'maiden', family: 'DURAND' }];
      const issue = single(checkRequiredBindings(patient({ name })), 'Patient.name[1].use');
      expect(issue.details?.text).to.contain('"birth"').and.contain('maiden');
    });

    it('when Identifier.use is not an identifier-use code, then it is reported at Patient.identifier[0].use', function () {
      const identifier = [{ use: 'primary' as 'official', system: INS_NIR, value: '180017510100052' }];
      single(checkRequiredBindings(patient({ identifier })), 'Patient.identifier[0].use');
    });

    it('when ContactPoint.system is not a contact-point-system code, then it is reported at Patient.telecom[0].system', function () {
      const telecom = [{ system: 'mobile' as 'phone', value: '0601020304' }];
      single(checkRequiredBindings(patient({ telecom })), 'Patient.telecom[0].system');
    });

    it('when Address.type is wrong, then it is reported at Patient.address[0].type', function () {
      single(checkRequiredBindings(patient({ address: [{ type: 'home' as 'postal' }] })), 'Patient.address[0].type');
    });

    it('when a backbone code (DocumentReference.relatesTo.code) is wrong, then it is reported with its index', function () {
      const relatesTo = [{ code: 'supersedes' as 'replaces', target: { reference: 'DocumentReference/d0' } }];
      single(checkRequiredBindings(documentReference({ relatesTo })), 'DocumentReference.relatesTo[0].code');
    });

    it('when a nested Consent.provision (contentReference) has a wrong type, then the nested path is reported', function () {
      const provision = { type: 'permit' as const, provision: [{ type: 'allow' as 'permit' }] };
      single(checkRequiredBindings(consent({ provision })), 'Consent.provision.provision[0].type');
    });

    it('when a Reference.identifier.use is wrong, then codes are checked through references too', function () {
      const subject = { identifier: { use: 'main' as 'usual', system: INS_NIR, value: '180017510100052' } };
      single(checkRequiredBindings(documentReference({ subject })), 'DocumentReference.subject.identifier.use');
    });

    it('when an element repeats codes (PractitionerRole.availableTime.daysOfWeek), then each wrong one is reported with its index', function () {
      const role: PractitionerRole = {
        resourceType: 'PractitionerRole',
        availableTime: [{ daysOfWeek: ['mon', 'funday' as 'sun', 'fri'] }],
      };
      single(checkRequiredBindings(role), 'PractitionerRole.availableTime[0].daysOfWeek[1]');
    });

    it('when an extension value is a data type with a code (valueHumanName.use), then that code is checked', function () {
      const extension = [{ url: 'urn:test:ext', valueHumanName: { use: 'alias' as 'usual', family: 'X' } }];
      single(checkRequiredBindings(patient({ extension })), 'Patient.extension[0].valueHumanName.use');
    });

    it('when a contained resource has a wrong code, then it is reported under contained[i]', function () {
      const contained: Resource[] = [{ resourceType: 'Practitioner', gender: 'man' as 'male' }];
      single(checkRequiredBindings(patient({ contained })), 'Patient.contained[0].gender');
    });

    it('when Narrative.status is wrong, then it is reported at Patient.text.status', function () {
      const text = { status: 'auto' as 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' };
      single(checkRequiredBindings(patient({ text })), 'Patient.text.status');
    });
  });

  describe('several errors and valid resources', function () {
    it('when a resource has several wrong codes, then every one is reported', function () {
      const issues = checkRequiredBindings(
        patient({
          gender: 'f' as 'female',
          name: [{ use: 'legal' as 'official', family: 'MARTIN' }],
          telecom: [{ system: 'phone', use: 'cell' as 'mobile', value: '0601020304' }],
        })
      );
      expect(expressions(issues)).to.have.members(['Patient.gender', 'Patient.name[0].use', 'Patient.telecom[0].use']);
      expect(issues.every((i) => i.severity === 'error' && i.code === 'code-invalid')).to.equal(true);
    });

    it('when every code is in its value set, then there is no issue', function () {
      const all: Resource[] = [patient(), documentReference(), consent(), list()];
      for (const resource of all) {
        expect(checkRequiredBindings(resource), resource.resourceType).to.deep.equal([]);
      }
    });

    it('when every resource of the demo bundle is checked, then none has a code outside its required value set', function () {
      const issues = (buildDemoBundle().entry ?? []).flatMap((e) => (e.resource ? checkRequiredBindings(e.resource) : []));
      expect(issues).to.deep.equal([]);
    });

    it('when the value set has more than 20 codes, then the text gives the value set URL without listing them', function () {
      const searchParameter = { resourceType: 'SearchParameter', base: ['NotAType'] };
      const issue = single(checkRequiredBindings(searchParameter), 'SearchParameter.base[0]');
      expect(issue.details?.text).to.contain('http://hl7.org/fhir/ValueSet/resource-types').and.not.contain('allowed:');
    });

    it('when a code has no valid lexical form (empty), then it is left to the base validator and not reported twice', function () {
      expect(checkRequiredBindings(patient({ gender: '' as 'female' }))).to.deep.equal([]);
    });
  });

  describe('bindings that are not enforced', function () {
    it('when the value set cannot be expanded locally (Attachment.contentType, MIME types), then any code passes', function () {
      const content = [{ attachment: { contentType: 'application/x-made-up', url: 'Binary/b1' } }];
      expect(checkRequiredBindings(documentReference({ content }))).to.deep.equal([]);
      expect(checkRequiredBindings({ resourceType: 'Binary', contentType: 'made/up' } as Resource)).to.deep.equal([]);
    });

    it('when the binding is not required (Patient.language is preferred), then any code passes', function () {
      expect(checkRequiredBindings(patient({ language: 'xx-nonsense' }))).to.deep.equal([]);
    });

    it('when the bindings of DocumentReference are listed, then content.attachment.contentType is skipped and status is enforced', function () {
      const bindings = requiredBindings('DocumentReference');
      const contentType = bindings.find((b) => b.path === 'DocumentReference.content.attachment.contentType');
      expect(contentType?.valueSet).to.equal('http://hl7.org/fhir/ValueSet/mimetypes');
      expect(contentType?.codes).to.equal(undefined);
      const status = bindings.find((b) => b.path === 'DocumentReference.status');
      expect(status?.codes).to.have.members(['current', 'superseded', 'entered-in-error']);
    });

    it('when the bindings of every stored type are listed, then each type enforces some and the listed paths include the data-type codes', function () {
      for (const type of RESOURCE_TYPES) {
        expect(requiredBindings(type).filter((b) => b.codes).length, type).to.be.greaterThan(0);
      }
      const paths = requiredBindings('Patient').map((b) => b.path);
      expect(paths).to.include.members(['Patient.gender', 'Patient.name.use', 'Patient.identifier.use', 'Patient.telecom.system', 'Patient.link.type']);
    });
  });

  describe('validateForWrite', function () {
    before(function () {
      this.timeout(60_000);
      loadProfiles();
    });

    it('when a Patient has gender "feminine", then validateForWrite throws 400 INVALID_RESOURCE with expression Patient.gender', function () {
      let caught: unknown;
      try {
        validateForWrite(patient({ gender: 'feminine' as Patient['gender'] }));
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(FhirError);
      const err = caught as FhirError;
      expect(err.status).to.equal(CATALOGUE.INVALID_RESOURCE.status);
      const issue = err.outcome.issue.find((i) => i.expression?.includes('Patient.gender'));
      expect(issue?.code).to.equal('code-invalid');
      expect(issue?.details?.coding?.[0]?.code).to.equal(CATALOGUE.INVALID_RESOURCE.id);
    });

    it('when a valid Patient is validated, then validateForWrite does not throw', function () {
      expect(() => validateForWrite(patient())).not.to.throw();
    });
  });
});

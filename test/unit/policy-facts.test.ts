import { expect } from 'chai';
import type { Consent, ConsentProvision, DocumentReference, Patient, RelatedPerson } from '@medplum/fhirtypes';
import {
  ACCESS_MODE_SYSTEM,
  ACT_CODE_SYSTEM,
  ACT_REASON_SYSTEM,
  DMP_CLOSURE_EXTENSION_URL,
  DOC_CLASS_SYSTEM,
  FINESS_SYSTEM,
  FR_CORE_CONTACT_RELATIONSHIP_SYSTEM,
  IDNST_SYSTEM,
  LOINC_SYSTEM,
  PARTICIPATION_TYPE_SYSTEM,
  V3_ROLE_CODE_SYSTEM,
  VISIBILITY_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { decide } from '../../src/policy/decide.js';
import {
  consentFacts,
  documentFacts,
  isClosed,
  isLegalRepresentative,
  isMinorOn,
  patientFactsFrom,
  periodCovers,
  provisionRules,
  ruleMeaning,
  structureIdsOf,
  type Resolution,
} from '../../src/policy/facts.js';
import { NOW, OPTIONS, patientUser, professional } from '../helpers/policy-fixtures.js';

const IRCP = { coding: [{ system: PARTICIPATION_TYPE_SYSTEM, code: 'IRCP' }] };
const TREAT = { system: ACT_REASON_SYSTEM, code: 'TREAT' };
const ETREAT = { system: ACT_REASON_SYSTEM, code: 'ETREAT' };
const actor = (reference: string): NonNullable<ConsentProvision['actor']>[number] => ({ role: IRCP, reference: { reference } });

function consent(provision: ConsentProvision, overrides: Partial<Consent> = {}): Consent {
  return {
    resourceType: 'Consent',
    id: 'c1',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: LOINC_SYSTEM, code: '59284-0' }] }],
    patient: { reference: 'Patient/p1' },
    dateTime: '2025-01-10',
    policyRule: { coding: [{ system: ACT_CODE_SYSTEM, code: 'OPTIN' }] },
    provision,
    ...overrides,
  };
}

const meaningOf = (provision: ConsentProvision): ReturnType<typeof ruleMeaning> => ruleMeaning(provisionRules(consent(provision), NOW)[0]);

describe('policy facts (pure interpretation)', () => {
  describe('provisionRules', () => {
    it('when a nested provision sets only its type and actor, then it takes its parent\'s purpose and is in force only inside the parent\'s period', () => {
      const c = consent({
        type: 'permit',
        period: { start: '2025-01-01', end: '2025-03-31' },
        purpose: [TREAT],
        actor: [actor('Practitioner/a')],
        provision: [{ type: 'deny', actor: [actor('Practitioner/b')] }],
      });
      const rules = provisionRules(c, NOW);
      expect(rules.map((r) => [r.type, r.actors.map((a) => a.reference), r.purposes, r.inForce])).to.deep.equal([
        ['permit', ['Practitioner/a'], ['TREAT'], false],
        ['deny', ['Practitioner/b'], ['TREAT'], false],
      ]);
    });

    it('when no now is given, then every rule counts as in force', () => {
      const rules = provisionRules(consent({ type: 'permit', period: { end: '2000-01-01' } }));
      expect(rules.map((r) => r.inForce)).to.deep.equal([true]);
    });

    it('when a purpose has another system, then it is kept as system|code and is not TREAT', () => {
      const rules = provisionRules(consent({ type: 'permit', purpose: [{ system: 'urn:other', code: 'TREAT' }, { code: 'ETREAT' }] }));
      expect(rules[0].purposes).to.deep.equal(['urn:other|TREAT', 'ETREAT']);
    });
  });

  describe('ruleMeaning', () => {
    it('when a permit with TREAT names an actor, then it authorises', () => {
      expect(meaningOf({ type: 'permit', purpose: [TREAT], actor: [actor('Practitioner/a')] })).to.deep.equal({ authorises: true, extendsRights: false, blocks: false, opposes: [] });
    });

    it('when a permit has no TREAT purpose, then it authorises nothing', () => {
      expect(meaningOf({ type: 'permit', actor: [actor('Practitioner/a')] }).authorises).to.equal(false);
    });

    it('when a permit carries a TRE_A07 MASQUE_PS label, then it extends rights; the same code of another system does not', () => {
      expect(meaningOf({ type: 'permit', actor: [actor('Practitioner/a')], securityLabel: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }] }).extendsRights).to.equal(true);
      expect(meaningOf({ type: 'permit', actor: [actor('Practitioner/a')], securityLabel: [{ system: 'urn:other', code: 'MASQUE_PS' }] }).extendsRights).to.equal(false);
    });

    it('when a deny names an actor without purpose, then it blocks and opposes nothing', () => {
      expect(meaningOf({ type: 'deny', actor: [actor('Practitioner/a')] })).to.deep.equal({ authorises: false, extendsRights: false, blocks: true, opposes: [] });
    });

    it('when a deny has purpose ETREAT only, then it opposes both modes and blocks no one, even with an actor', () => {
      expect(meaningOf({ type: 'deny', purpose: [ETREAT], actor: [actor('Practitioner/a')] })).to.deep.equal({
        authorises: false,
        extendsRights: false,
        blocks: false,
        opposes: ['bris_de_glace', 'centre_15'],
      });
    });

    it('when a deny has an access-mode code but no purpose, then it opposes that mode only', () => {
      expect(meaningOf({ type: 'deny', code: [{ coding: [{ system: ACCESS_MODE_SYSTEM, code: 'centre_15' }] }] }).opposes).to.deep.equal(['centre_15']);
    });

    it('when a deny names an actor with TREAT and ETREAT, then it both blocks and opposes', () => {
      const m = meaningOf({ type: 'deny', purpose: [TREAT, ETREAT], actor: [actor('Practitioner/a')] });
      expect([m.blocks, m.opposes]).to.deep.equal([true, ['bris_de_glace', 'centre_15']]);
    });
  });

  describe('periodCovers', () => {
    it('when the start is the instant now, then it covers; one millisecond before the start, it does not', () => {
      expect(periodCovers({ start: NOW.toISOString() }, NOW, false)).to.equal(true);
      expect(periodCovers({ start: NOW.toISOString() }, new Date(NOW.getTime() - 1), false)).to.equal(false);
    });

    it('when a bound is unreadable, then the answer is the one given for that case', () => {
      expect(periodCovers({ start: 'yesterday' }, NOW, true)).to.equal(true);
      expect(periodCovers({ start: 'yesterday' }, NOW, false)).to.equal(false);
    });
  });

  describe('isMinorOn', () => {
    it('when it is already the 18th birthday in Paris but still the day before in UTC, then the person is an adult', () => {
      expect(isMinorOn('2007-06-01', new Date('2025-05-31T22:30:00Z'))).to.equal(false);
      expect(isMinorOn('2007-06-01', new Date('2025-05-31T21:30:00Z'))).to.equal(true);
    });

    it('when born on 29 February, then the person comes of age on 1 March of a common year', () => {
      expect(isMinorOn('2008-02-29', new Date('2026-02-28T12:00:00Z'))).to.equal(true);
      expect(isMinorOn('2008-02-29', new Date('2026-03-01T12:00:00Z'))).to.equal(false);
    });

    it('when the birth date is only a year, then it counts from 1 January; without a birth date, nobody is a minor', () => {
      expect(isMinorOn('2007', new Date('2025-01-01T12:00:00Z'))).to.equal(false);
      expect(isMinorOn('2008', new Date('2025-12-31T12:00:00Z'))).to.equal(true);
      expect(isMinorOn(undefined, NOW)).to.equal(false);
    });
  });

  describe('isClosed', () => {
    const closure = [{ url: DMP_CLOSURE_EXTENSION_URL, extension: [{ url: 'motifFermeture', valueCoding: { code: 'patient-demande' } }] }];

    it('when active is false, then the DMP is closed; when active is true, a closure extension does not close it', () => {
      expect(isClosed({ resourceType: 'Patient', active: false }, NOW)).to.equal(true);
      expect(isClosed({ resourceType: 'Patient', active: true, extension: closure }, NOW)).to.equal(false);
    });

    it('when active is absent, then an undated closure extension closes it and another extension does not', () => {
      expect(isClosed({ resourceType: 'Patient', extension: closure }, NOW)).to.equal(true);
      expect(isClosed({ resourceType: 'Patient', extension: [{ ...closure[0], url: 'urn:other' }] }, NOW)).to.equal(false);
    });
  });

  describe('isLegalRepresentative', () => {
    const rp = (system: string, code: string): RelatedPerson => ({
      resourceType: 'RelatedPerson',
      id: 'rp',
      patient: { reference: 'Patient/p1' },
      relationship: [{ coding: [{ system, code }] }],
    });

    it('when the relationship is FR Core CUR (représentant légal) or v3 MTH, then it is a legal representative', () => {
      expect(isLegalRepresentative(rp(FR_CORE_CONTACT_RELATIONSHIP_SYSTEM, 'CUR'), 'p1', NOW)).to.equal(true);
      expect(isLegalRepresentative(rp(V3_ROLE_CODE_SYSTEM, 'MTH'), 'p1', NOW)).to.equal(true);
    });

    it('when the relationship is a foster parent, a right code in the wrong system, or another patient, then it is not', () => {
      expect(isLegalRepresentative(rp(V3_ROLE_CODE_SYSTEM, 'PRNFOST'), 'p1', NOW)).to.equal(false);
      expect(isLegalRepresentative(rp('urn:other', 'MTH'), 'p1', NOW)).to.equal(false);
      expect(isLegalRepresentative(rp(V3_ROLE_CODE_SYSTEM, 'MTH'), 'p2', NOW)).to.equal(false);
    });
  });

  describe('documentFacts', () => {
    const base: DocumentReference = {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: 'Patient/p1' },
      type: { coding: [{ system: 'urn:local', code: 'CR' }, { system: LOINC_SYSTEM, code: '11488-4' }] },
      category: [{ coding: [{ system: DOC_CLASS_SYSTEM, code: '10' }] }],
      securityLabel: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] },
        { coding: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }] },
        { coding: [{ code: 'INVISIBLE_PATIENT' }] },
      ],
      author: [{ reference: 'Practitioner/a' }, { reference: 'PractitionerRole/r' }, { reference: 'http://example.org/fhir/Practitioner/b' }],
      date: '2025-05-01T10:00:00+02:00',
      content: [{ attachment: { contentType: 'application/pdf' } }],
    };

    it('when a document is read, then its facts are the DMP type coding, the class, the TRE_A07 labels, the Practitioner authors; not its date (the deposit time is the database\'s)', () => {
      expect(documentFacts(base)).to.deep.equal({
        typeCode: '11488-4',
        typeSystem: LOINC_SYSTEM,
        classCode: '10',
        labels: ['MASQUE_PS'],
        authorPractitionerIds: ['a', 'b'],
        depositedByPatient: false,
      });
    });

    it('when the subject patient is an author, then the patient deposited it; another patient as author does not count', () => {
      expect(documentFacts({ ...base, author: [{ reference: 'Patient/p1' }] }).depositedByPatient).to.equal(true);
      expect(documentFacts({ ...base, author: [{ reference: 'Patient/p2' }] }).depositedByPatient).to.equal(false);
    });
  });

  describe('consentFacts', () => {
    it('when a permit names a Practitioner with TREAT, then its facts say so', () => {
      expect(consentFacts(consent({ type: 'permit', purpose: [TREAT], actor: [actor('Practitioner/a')] }))).to.deep.equal({
        provisionType: 'permit',
        actorPractitionerIds: ['a'],
        actorOrganizationIds: [],
        purposes: ['TREAT'],
        securityLabels: [],
      });
    });

    it('when an actor needs the database (Organization), then it is kept as written so that it matches no professional', () => {
      expect(consentFacts(consent({ type: 'permit', purpose: [TREAT], actor: [actor('Organization/o1')] })).actorPractitionerIds).to.deep.equal(['Organization/o1']);
    });

    it('when a structure is named by FINESS identifier, then its IDNST form is the structure id', () => {
      const c = consent({ type: 'permit', purpose: [TREAT], actor: [{ role: IRCP, reference: { identifier: { system: FINESS_SYSTEM, value: '750999997' } } }] });
      expect(consentFacts(c).actorOrganizationIds).to.deep.equal(['1750999997']);
    });

    it('when a permit hides a nested deny, then the Consent counts as a deny, with every actor, purpose and label', () => {
      const c = consent({
        type: 'permit',
        purpose: [TREAT],
        actor: [actor('Practitioner/a')],
        provision: [{ type: 'deny', purpose: [ETREAT], actor: [actor('Practitioner/b')], securityLabel: [{ system: VISIBILITY_SYSTEM, code: 'MASQUE_PS' }] }],
      });
      expect(consentFacts(c)).to.deep.equal({
        provisionType: 'deny',
        actorPractitionerIds: ['a', 'b'],
        actorOrganizationIds: [],
        purposes: ['TREAT', 'ETREAT'],
        securityLabels: ['MASQUE_PS'],
      });
    });
  });

  describe('structureIdsOf', () => {
    it('when an Organization has IDNST and FINESS, then the IDNST comes first; without either, its id', () => {
      expect(structureIdsOf({ resourceType: 'Organization', identifier: [{ system: FINESS_SYSTEM, value: '750999997' }, { system: IDNST_SYSTEM, value: '1750999997' }] })).to.deep.equal([
        '1750999997',
        '750999997',
      ]);
      expect(structureIdsOf({ resourceType: 'Organization', id: 'org-1' })).to.deep.equal(['org-1']);
    });
  });

  describe('patientFactsFrom, as decide reads it', () => {
    const minor: Patient = { resourceType: 'Patient', id: 'p1', birthDate: '2015-06-21', generalPractitioner: [{ reference: 'PractitionerRole/gp-role' }] };
    const resolutions = new Map<string, Resolution>([
      ['PractitionerRole/gp-role', { live: { practitionerIds: ['gp'], structureIds: [] }, lastKnown: { practitionerIds: ['gp'], structureIds: [] } }],
      ['Organization/clinic', { live: { practitionerIds: [], structureIds: ['1750999997'] }, lastKnown: { practitionerIds: [], structureIds: ['1750999997'] } }],
    ]);
    const parentRp: RelatedPerson = { resourceType: 'RelatedPerson', id: 'rp1', patient: { reference: 'Patient/p1' }, relationship: [{ coding: [{ system: V3_ROLE_CODE_SYSTEM, code: 'PRN' }] }] };
    const facts = patientFactsFrom({
      patient: minor,
      consents: [
        consent({ type: 'permit', purpose: [TREAT], actor: [actor('Organization/clinic')] }),
        consent({ type: 'deny', actor: [actor('Practitioner/blocked')] }),
        consent({ type: 'permit', purpose: [TREAT], actor: [actor('Practitioner/gone')] }, { status: 'inactive' }),
      ],
      relatedPersons: [{ resource: parentRp, ownPatientIds: ['parent-patient'] }],
      resolutions,
      now: NOW,
    });

    it('when the facts are assembled, then each field holds what the resources say', () => {
      expect(facts).to.deep.equal({
        patientId: 'p1',
        closed: false,
        authorised: { practitionerIds: [], organizationIds: ['1750999997'] },
        blocked: { practitionerIds: ['blocked'], organizationIds: [] },
        emergencyOpposition: { brisDeGlace: false, centre15: false },
        medecinTraitantIds: ['gp'],
        extendedRightsIds: [],
        legalRepresentativeIds: ['RelatedPerson/rp1', 'parent-patient'],
        isMinor: true,
      });
    });

    it('when decide reads these facts, then the structure member is authorised, the blocked one is refused and the parent acts for the minor', () => {
      const member = professional({ practitionerId: 'nurse-1', profession: '60', structure: '1750999997' });
      const blocked = professional({ practitionerId: 'blocked', profession: '10', speciality: 'SM54', structure: '1750999997' });
      expect(decide(member, 'search', { kind: 'dmp' }, facts, OPTIONS)).to.deep.equal({ allow: true, reason: 'authorised' });
      expect(decide(blocked, 'search', { kind: 'dmp' }, facts, OPTIONS)).to.include({ allow: false, reason: 'blocked' });
      expect(decide(patientUser('parent-patient', 'Patient/parent-patient'), 'search', { kind: 'dmp' }, facts, OPTIONS)).to.deep.equal({
        allow: true,
        reason: 'legal-representative',
      });
    });
  });
});

import { expect } from 'chai';
import { decide, openingConsentDecision, systemDecision, type PolicyAction, type PolicyDecision, type PolicyTarget, type ConsentFacts, type DocumentFacts, type PatientFacts } from '../../src/policy/decide.js';
import { HabilitationMatrix } from '../../src/policy/habilitation-matrix.js';
import type { Principal } from '../../src/policy/principal.js';
import type { ReasonCode } from '../../src/policy/reasons.js';
import { LOINC_SYSTEM, PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../../src/dmp/identifiers.js';
import {
  a05Doc,
  anonymous,
  authorising,
  daysAgo,
  dentist,
  doc,
  doctor,
  facts,
  internal,
  midwife,
  nurse,
  OPTIONS,
  patientUser,
  pharmacist,
  professional,
  regulator,
  representative,
  roleLessSystemClient,
  systemClient,
} from '../helpers/policy-fixtures.js';

const DMP: PolicyTarget = { kind: 'dmp' };
const PATIENT_RECORD: PolicyTarget = { kind: 'dmp', part: 'patient' };
const document = (d: DocumentFacts): PolicyTarget => ({ kind: 'document', document: d });
const consent = (c: Partial<ConsentFacts> = {}): PolicyTarget => ({
  kind: 'consent',
  consent: { provisionType: 'permit', actorPractitionerIds: ['pr-nurse'], actorOrganizationIds: [], purposes: ['TREAT'], securityLabels: [], ...c },
});

function check(principal: Principal, action: PolicyAction, target: PolicyTarget, f: PatientFacts, options = OPTIONS): PolicyDecision {
  return decide(principal, action, target, f, options);
}

function expectAllowed(decision: PolicyDecision, reason: ReasonCode): void {
  expect(decision).to.deep.equal({ allow: true, reason });
}

function expectDenied(decision: PolicyDecision, reason: ReasonCode, level: 'patient' | 'document'): void {
  expect(decision).to.deep.equal({ allow: false, reason, level });
}

describe('policy decide: rule 1, patient authorisation', () => {
  it('when an authorised professional reads the DMP, then it is allowed because authorised', () => {
    expectAllowed(check(nurse(), 'read', DMP, authorising('pr-nurse')), 'authorised');
  });

  it('when the professional\'s structure is authorised, then a document of an allowed type is readable', () => {
    const f = facts({ authorised: { practitionerIds: [], organizationIds: ['st-nurse'] } });
    expectAllowed(check(nurse(), 'read', document(doc()), f), 'authorised');
  });

  it('when a professional without authorisation reads, then the whole DMP is refused (403 level)', () => {
    expectDenied(check(nurse(), 'read', document(doc()), facts()), 'not-authorised', 'patient');
  });

  it('when a professional without authorisation searches, then the search is refused at patient level', () => {
    expectDenied(check(doctor(), 'search', DMP, facts()), 'not-authorised', 'patient');
  });

  it('when a professional without authorisation feeds a document, then it is allowed (feeding)', () => {
    expectAllowed(check(nurse(), 'create', document(doc({ authorPractitionerIds: ['pr-nurse'] })), facts()), 'feeding');
  });

  it('when a professional feeds a REMB or a DOCPAT document, then it is refused as a reserved type', () => {
    expectDenied(check(doctor(), 'create', document(a05Doc('REMB')), facts()), 'reserved-document-type', 'patient');
    expectDenied(check(doctor(), 'create', document(a05Doc('DOCPAT03')), facts()), 'reserved-document-type', 'patient');
  });

  it('when a professional records the patient\'s permit (TREAT) for themselves, then it is allowed', () => {
    expectAllowed(check(nurse(), 'manage-consent', consent(), facts()), 'consent-recorded');
  });

  it('when a professional records a permit for their own structure, then it is allowed', () => {
    expectAllowed(check(nurse(), 'manage-consent', consent({ actorPractitionerIds: [], actorOrganizationIds: ['st-nurse'] }), facts()), 'consent-recorded');
  });

  it('when a professional records a permit for someone else, a deny, extended rights or an emergency purpose, then only the patient may', () => {
    for (const c of [
      { actorPractitionerIds: ['pr-doctor'] },
      { provisionType: 'deny' as const },
      { securityLabels: ['MASQUE_PS'] },
      { purposes: ['ETREAT'] },
      { actorPractitionerIds: [] },
    ]) {
      expectDenied(check(nurse(), 'manage-consent', consent(c), facts()), 'reserved-to-patient', 'patient');
    }
  });

  it('when the patient manages their authorisations and blocks, then it is allowed', () => {
    expectAllowed(check(patientUser(), 'manage-consent', consent({ provisionType: 'deny' }), facts()), 'patient-self');
  });

  it('when the insurer reads a document other than reimbursement data, then it is absent to it; its REMB documents it reads back and replaces', () => {
    expectDenied(check(systemClient, 'read', document(doc()), authorising('pr-nurse')), 'insurer-reimbursement-only', 'document');
    expectAllowed(check(systemClient, 'read', document(a05Doc('REMB')), facts()), 'system-client');
    expectAllowed(check(systemClient, 'search', { kind: 'dmp', part: 'documents' }, facts()), 'system-client');
    expectAllowed(check(systemClient, 'update', document(a05Doc('REMB')), facts()), 'system-client');
    expectDenied(check(systemClient, 'update', document(doc()), facts()), 'system-not-allowed', 'patient');
  });
});

describe('policy decide: rule 2, blocked professionals', () => {
  const blocked = (f: Partial<PatientFacts> = {}): PatientFacts =>
    facts({ blocked: { practitionerIds: ['pr-doctor'], organizationIds: [] }, authorised: { practitionerIds: ['pr-doctor'], organizationIds: [] }, ...f });

  it('when an authorised professional is blocked, then reading is refused', () => {
    expectDenied(check(doctor(), 'read', DMP, blocked()), 'blocked', 'patient');
  });

  it('when a blocked professional feeds a document, then it is refused', () => {
    expectDenied(check(doctor(), 'create', document(doc({ authorPractitionerIds: ['pr-doctor'] })), blocked()), 'blocked', 'patient');
  });

  it('when the professional\'s structure is blocked, then reading is refused', () => {
    const f = facts({ blocked: { practitionerIds: [], organizationIds: ['st-doctor'] }, authorised: { practitionerIds: ['pr-doctor'], organizationIds: [] } });
    expectDenied(check(doctor(), 'read', DMP, f), 'blocked', 'patient');
  });

  it('when a blocked professional uses bris de glace or centre 15, then it is still refused', () => {
    expectDenied(check(doctor('bris_de_glace'), 'read', DMP, blocked()), 'blocked', 'patient');
    const f = facts({ blocked: { practitionerIds: ['pr-regulator'], organizationIds: [] } });
    expectDenied(check(regulator(), 'read', DMP, f), 'blocked', 'patient');
  });

  it('when the blocked professional is the médecin traitant, then the block still wins', () => {
    expectDenied(check(doctor(), 'read', DMP, blocked({ medecinTraitantIds: ['pr-doctor'] })), 'blocked', 'patient');
  });

  it('when a blocked author deletes their own document, then it is refused', () => {
    expectDenied(check(doctor(), 'delete', document(doc({ authorPractitionerIds: ['pr-doctor'] })), blocked()), 'blocked', 'patient');
  });
});

describe('policy decide: rule 3, habilitation matrix', () => {
  it('when a doctor reads a consultation report, then it is allowed', () => {
    expectAllowed(check(doctor(), 'read', document(doc()), authorising('pr-doctor')), 'authorised');
  });

  it('when a doctor reads an attestation de résidence, then the document is hidden (matrix)', () => {
    expectDenied(check(doctor(), 'read', document(a05Doc('ATTEST-RESID')), authorising('pr-doctor')), 'matrix-forbids', 'document');
  });

  it('when a nurse reads a psychiatric synthesis, then the document is hidden (matrix)', () => {
    expectDenied(check(nurse(), 'read', document(doc({ typeCode: '68599-0' })), authorising('pr-nurse')), 'matrix-forbids', 'document');
  });

  it('when a dentist reads a medico-social support plan, then the document is hidden (matrix)', () => {
    expectDenied(check(dentist(), 'read', document(doc({ typeCode: '80788-3' })), authorising('pr-dentist')), 'matrix-forbids', 'document');
  });

  it('when a pharmacist reads a dispensing record but not the reimbursement history, then the matrix decides each', () => {
    const f = authorising('pr-pharmacist');
    expectAllowed(check(pharmacist(), 'read', document(doc({ typeCode: '60593-1' })), f), 'authorised');
    expectDenied(check(pharmacist(), 'read', document(a05Doc('REMB')), f), 'matrix-forbids', 'document');
  });

  it('when a profession with no published row reads a consultation report, then it is hidden, but a vaccination history is readable', () => {
    const f = authorising('pr-midwife');
    expectDenied(check(midwife(), 'read', document(doc()), f), 'matrix-forbids', 'document');
    expectAllowed(check(midwife(), 'read', document(doc({ typeCode: '11369-6' })), f), 'authorised');
  });

  it('when a nurse in bris de glace reads a psychiatric synthesis, then the matrix still hides it', () => {
    expectDenied(check(nurse('bris_de_glace'), 'read', document(doc({ typeCode: '68599-0' })), facts()), 'matrix-forbids', 'document');
  });

  it('when the document type is unknown, missing, or in another system, then the document is hidden', () => {
    const f = authorising('pr-doctor');
    expectDenied(check(doctor(), 'read', document(doc({ typeCode: '99999-9' })), f), 'unknown-document-type', 'document');
    expectDenied(check(doctor(), 'read', document(doc({ typeCode: undefined })), f), 'unknown-document-type', 'document');
    expectDenied(check(doctor(), 'read', document(doc({ typeSystem: 'http://snomed.info/sct' })), f), 'unknown-document-type', 'document');
  });

  it('when the professional\'s profession is unknown or missing, then the whole DMP is refused', () => {
    const f = authorising('pr-x');
    expectDenied(check(professional({ practitionerId: 'pr-x', profession: '99' }), 'read', DMP, f), 'unknown-profession', 'patient');
    expectDenied(check(professional({ practitionerId: 'pr-x' }), 'read', document(doc()), f), 'unknown-profession', 'patient');
    expectDenied(check(professional({ practitionerId: 'pr-x' }), 'create', document(doc()), f), 'unknown-profession', 'patient');
  });

  it('when the matrix allows a type to one speciality only, then only a professional with that speciality reads it', () => {
    const matrix = new HabilitationMatrix({
      resourceType: 'ConceptMap',
      group: [{
        source: LOINC_SYSTEM,
        target: PROFESSION_SYSTEM,
        element: [
          { code: '11488-4', target: [{ code: '60', equivalence: 'equivalent' }] },
          { code: '68599-0', target: [{ code: '60', equivalence: 'equivalent', dependsOn: [{ property: 'speciality', system: SPECIALITY_SYSTEM, value: 'SI04' }] }] },
        ],
      }],
    });
    const options = { ...OPTIONS, matrix };
    const psy = document(doc({ typeCode: '68599-0' }));
    expectAllowed(check(nurse('normal', { speciality: 'SI04' }), 'read', psy, authorising('pr-nurse'), options), 'authorised');
    expectDenied(check(nurse(), 'read', psy, authorising('pr-nurse'), options), 'matrix-forbids', 'document');
  });

  it('when the patient reads a type no profession may read, then it is allowed (the matrix binds professionals only)', () => {
    expectAllowed(check(patientUser(), 'read', document(a05Doc('ATTEST-RESID')), facts()), 'patient-self');
  });
});

describe('policy decide: rule 4, visibility labels', () => {
  const masked = doc({ labels: ['MASQUE_PS'] });

  it('when an authorised professional reads a MASQUE_PS document, then it is hidden', () => {
    expectDenied(check(nurse(), 'read', document(masked), authorising('pr-nurse')), 'masked', 'document');
  });

  it('when the author of a MASQUE_PS document reads it, then it is allowed', () => {
    const own = doc({ labels: ['MASQUE_PS'], authorPractitionerIds: ['pr-nurse'] });
    expectAllowed(check(nurse(), 'read', document(own), authorising('pr-nurse')), 'author');
  });

  it('when a professional in bris de glace reads a MASQUE_PS document, then it stays hidden', () => {
    expectDenied(check(doctor('bris_de_glace'), 'read', document(masked), facts()), 'masked', 'document');
  });

  it('when a professional reads an INVISIBLE_PATIENT or INVISIBLE_REPRESENTANTS_LEGAUX document, then it is visible to them', () => {
    const f = authorising('pr-doctor');
    expectAllowed(check(doctor(), 'read', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(1) })), f), 'authorised');
    expectAllowed(check(doctor(), 'read', document(doc({ labels: ['INVISIBLE_REPRESENTANTS_LEGAUX'] })), f), 'authorised');
  });

  it('when the patient reads an INVISIBLE_PATIENT document before the delay ends, then it is hidden', () => {
    expectDenied(check(patientUser(), 'read', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(29) })), facts()), 'invisible-to-patient', 'document');
  });

  it('when the delay has just ended, then the patient sees the INVISIBLE_PATIENT document, not one millisecond before', () => {
    expectAllowed(check(patientUser(), 'read', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(30) })), facts()), 'patient-self');
    expectDenied(check(patientUser(), 'read', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(30, 1) })), facts()), 'invisible-to-patient', 'document');
  });

  it('when the delay setting is 7 days, then an INVISIBLE_PATIENT document of 8 days is visible to the patient', () => {
    const d = document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(8) }));
    expectAllowed(check(patientUser(), 'read', d, facts(), { ...OPTIONS, invisiblePatientDelayDays: 7 }), 'patient-self');
  });

  it('when an INVISIBLE_PATIENT document has no known deposit time (not stored yet), then it stays hidden from the patient', () => {
    expectDenied(check(patientUser(), 'read', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: undefined })), facts()), 'invisible-to-patient', 'document');
  });

  it('when a legal representative reads an INVISIBLE_PATIENT document, then it is hidden', () => {
    expectDenied(check(representative(), 'read', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(2) })), facts()), 'invisible-to-patient', 'document');
  });

  it('when a legal representative reads an INVISIBLE_REPRESENTANTS_LEGAUX document, then it is hidden, even long after', () => {
    const d = document(doc({ labels: ['INVISIBLE_REPRESENTANTS_LEGAUX'], deposited: daysAgo(400) }));
    expectDenied(check(representative(), 'read', d, facts()), 'invisible-to-representatives', 'document');
  });

  it('when the minor reads their INVISIBLE_REPRESENTANTS_LEGAUX document, then it is visible', () => {
    expectAllowed(check(patientUser(), 'read', document(doc({ labels: ['INVISIBLE_REPRESENTANTS_LEGAUX'] })), facts()), 'patient-self');
  });

  it('when the patient reads a MASQUE_PS document, then it is visible (they masked it)', () => {
    expectAllowed(check(patientUser(), 'read', document(masked), facts()), 'patient-self');
  });
});

describe('policy decide: rule 5, médecin traitant and extended rights', () => {
  it('when the médecin traitant reads a MASQUE_PS document, then it is allowed', () => {
    expectAllowed(check(doctor(), 'read', document(doc({ labels: ['MASQUE_PS'] })), facts({ medecinTraitantIds: ['pr-doctor'] })), 'medecin-traitant');
  });

  it('when the médecin traitant has no separate Consent, then reading is allowed', () => {
    expectAllowed(check(doctor(), 'search', DMP, facts({ medecinTraitantIds: ['pr-doctor'] })), 'medecin-traitant');
  });

  it('when a professional holds extended rights, then they read MASQUE_PS documents', () => {
    expectAllowed(check(nurse(), 'read', document(doc({ labels: ['MASQUE_PS'] })), facts({ extendedRightsIds: ['pr-nurse'] })), 'extended-rights');
  });

  it('when the médecin traitant reads a type the matrix forbids doctors, then it stays hidden', () => {
    expectDenied(check(doctor(), 'read', document(a05Doc('ATTEST-RESID')), facts({ medecinTraitantIds: ['pr-doctor'] })), 'matrix-forbids', 'document');
  });

  it('when the patient sets the médecin traitant (Patient update), then it is allowed', () => {
    expectAllowed(check(patientUser(), 'update', DMP, facts()), 'patient-self');
  });

  it('when an authorised doctor updates the Patient (declaring themselves médecin traitant), then it is allowed; unauthorised or in bris de glace, refused', () => {
    expectAllowed(check(doctor(), 'update', DMP, authorising('pr-doctor')), 'authorised');
    expectDenied(check(doctor(), 'update', DMP, facts()), 'not-authorised', 'patient');
    expectDenied(check(doctor('bris_de_glace'), 'update', DMP, facts()), 'not-authorised', 'patient');
  });
});

describe('policy decide: rule 6, emergency access', () => {
  it('when an unauthorised health professional uses bris de glace, then reading is allowed', () => {
    expectAllowed(check(nurse('bris_de_glace'), 'read', document(doc()), facts()), 'bris-de-glace');
  });

  it('when the patient opposed bris de glace, then a bris de glace access is refused', () => {
    expectDenied(check(doctor('bris_de_glace'), 'read', DMP, facts({ emergencyOpposition: { brisDeGlace: true, centre15: false } })), 'emergency-opposed', 'patient');
  });

  it('when the patient opposed only centre 15, then bris de glace is still allowed', () => {
    expectAllowed(check(doctor('bris_de_glace'), 'read', DMP, facts({ emergencyOpposition: { brisDeGlace: false, centre15: true } })), 'bris-de-glace');
  });

  it('when someone without a health profession uses bris de glace, then it is refused', () => {
    expectDenied(check(professional({ practitionerId: 'pr-x' }, 'bris_de_glace'), 'read', DMP, facts()), 'not-a-health-professional', 'patient');
  });

  it('when an authorised professional uses bris de glace on a patient who opposed it, then the authorisation still applies', () => {
    const f = facts({ authorised: { practitionerIds: ['pr-doctor'], organizationIds: [] }, emergencyOpposition: { brisDeGlace: true, centre15: true } });
    expectAllowed(check(doctor('bris_de_glace'), 'read', DMP, f), 'authorised');
  });

  it('when the SAMU regulator uses centre 15, then reading is allowed', () => {
    expectAllowed(check(regulator(), 'read', document(doc()), facts()), 'centre-15');
  });

  it('when a professional who is not a regulator uses centre 15, then it is refused', () => {
    expectDenied(check(doctor('centre_15'), 'read', DMP, facts()), 'not-regulator', 'patient');
  });

  it('when the patient opposed centre 15, then the regulator is refused; opposed only to bris de glace, allowed', () => {
    expectDenied(check(regulator(), 'read', DMP, facts({ emergencyOpposition: { brisDeGlace: false, centre15: true } })), 'emergency-opposed', 'patient');
    expectAllowed(check(regulator(), 'read', DMP, facts({ emergencyOpposition: { brisDeGlace: true, centre15: false } })), 'centre-15');
  });

  it('when a professional in bris de glace deletes someone else\'s document, then only the author may', () => {
    expectDenied(check(doctor('bris_de_glace'), 'delete', document(doc()), facts()), 'not-author', 'patient');
  });
});

describe('policy decide: rule 7, author rights', () => {
  const own = (d: Partial<DocumentFacts> = {}): PolicyTarget => document(doc({ authorPractitionerIds: ['pr-nurse'], ...d }));

  it('when the author reads their document of a type the matrix forbids them, then it is allowed', () => {
    expectAllowed(check(nurse(), 'read', own({ typeCode: '89601-9' }), authorising('pr-nurse')), 'author');
  });

  it('when the author deletes their document without a reading authorisation, then it is allowed', () => {
    expectAllowed(check(nurse(), 'delete', own(), facts()), 'author');
  });

  it('when the author changes the masking of their document, then it is allowed', () => {
    expectAllowed(check(nurse(), 'change-visibility', own(), facts()), 'author');
  });

  it('when an authorised professional who is not the author deletes or unmasks a document, then it is refused (403)', () => {
    expectDenied(check(doctor(), 'delete', document(doc()), authorising('pr-doctor')), 'not-author', 'patient');
    expectDenied(check(doctor(), 'change-visibility', document(doc()), authorising('pr-doctor')), 'not-author', 'patient');
    expectDenied(check(doctor(), 'update', document(doc()), authorising('pr-doctor')), 'not-author', 'patient');
  });

  it('when the médecin traitant deletes a document they did not write, then it is refused', () => {
    expectDenied(check(doctor(), 'delete', document(doc()), facts({ medecinTraitantIds: ['pr-doctor'] })), 'not-author', 'patient');
  });

  it('when a non-author tries to delete a document hidden from them, then it behaves as absent', () => {
    expectDenied(check(nurse(), 'delete', document(doc({ labels: ['MASQUE_PS'] })), authorising('pr-nurse')), 'masked', 'document');
  });

  it('when the patient deletes a document they deposited, then it is allowed; a professional\'s document, refused', () => {
    expectAllowed(check(patientUser(), 'delete', document(a05Doc('DOCPAT03', { depositedByPatient: true, authorPractitionerIds: [] })), facts()), 'patient-self');
    expectDenied(check(patientUser(), 'delete', document(doc()), facts()), 'not-author', 'patient');
  });

  it('when the patient masks or unmasks a document they see, then it is allowed; one invisible to them behaves as absent', () => {
    expectAllowed(check(patientUser(), 'change-visibility', document(doc()), facts()), 'patient-self');
    expectDenied(check(patientUser(), 'change-visibility', document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(1) })), facts()), 'invisible-to-patient', 'document');
  });

  it('when a legal representative deletes a document they deposited for the minor, then it is allowed', () => {
    expectAllowed(check(representative(), 'delete', document(a05Doc('DOCPAT01', { depositedByPatient: true })), facts()), 'legal-representative');
  });

  it('when a system client deletes or unmasks a document, then it is refused', () => {
    expectDenied(check(systemClient, 'delete', document(a05Doc('REMB')), facts()), 'system-not-allowed', 'patient');
    expectDenied(check(systemClient, 'change-visibility', document(doc()), facts()), 'system-not-allowed', 'patient');
  });
});

describe('policy decide: rule 8, patient and legal representative', () => {
  it('when the patient reads their DMP and their traces, then it is allowed', () => {
    expectAllowed(check(patientUser(), 'search', DMP, facts()), 'patient-self');
    expectAllowed(check(patientUser(), 'read-audit', DMP, facts()), 'patient-self');
  });

  it('when a patient reads another patient\'s DMP, then it is refused', () => {
    expectDenied(check(patientUser('pat-stranger'), 'read', DMP, facts()), 'not-own-record', 'patient');
  });

  it('when the patient deposits a DOCPAT document, then it is allowed; another type, refused', () => {
    expectAllowed(check(patientUser(), 'create', document(a05Doc('DOCPAT05', { depositedByPatient: true })), facts()), 'patient-self');
    expectDenied(check(patientUser(), 'create', document(doc({ depositedByPatient: true })), facts()), 'patient-document-types-only', 'patient');
    expectDenied(check(patientUser(), 'create', document(doc({ typeCode: 'DOCPAT05' })), facts()), 'patient-document-types-only', 'patient');
  });

  it('when the patient updates a document they deposited, then it is allowed; a professional\'s, refused', () => {
    expectAllowed(check(patientUser(), 'update', document(a05Doc('DOCPAT02', { depositedByPatient: true })), facts()), 'patient-self');
    expectDenied(check(patientUser(), 'update', document(doc()), facts()), 'not-author', 'patient');
  });

  it('when the legal representative of a minor reads the DMP and manages consents, then it is allowed', () => {
    expectAllowed(check(representative(), 'read', document(doc()), facts()), 'legal-representative');
    expectAllowed(check(representative(), 'manage-consent', consent({ provisionType: 'deny' }), facts()), 'legal-representative');
  });

  it('when the representative is known by their RelatedPerson fhirUser, then they act for the minor', () => {
    const f = facts({ legalRepresentativeIds: ['RelatedPerson/rp-1'] });
    expectAllowed(check(patientUser('pat-other-parent', 'RelatedPerson/rp-1'), 'read', DMP, f), 'legal-representative');
  });

  it('when the holder is no longer a minor, then the former legal representative is refused', () => {
    expectDenied(check(representative(), 'read', DMP, facts({ isMinor: false })), 'representative-of-adult', 'patient');
  });

  it('when a professional reopens a DMP or manages its blocks, then only the patient may', () => {
    expectDenied(check(doctor(), 'reopen', DMP, authorising('pr-doctor')), 'reserved-to-patient', 'patient');
    expectDenied(check(doctor(), 'manage-consent', DMP, authorising('pr-doctor')), 'reserved-to-patient', 'patient');
  });

  it('when a professional closes a DMP on the patient\'s request, then only one the patient authorised may, never through an emergency mode', () => {
    expectAllowed(check(doctor(), 'close', PATIENT_RECORD, authorising('pr-doctor')), 'authorised');
    expectDenied(check(doctor(), 'close', PATIENT_RECORD, facts()), 'not-authorised', 'patient');
    expectDenied(check(doctor('bris_de_glace'), 'close', PATIENT_RECORD, facts()), 'not-authorised', 'patient');
    expectDenied(check(doctor(), 'close', document(doc()), authorising('pr-doctor')), 'default-deny', 'patient');
  });

  it('when a professional opens a DMP, then the opening is allowed pending the patient\'s consent, which only an authorisation of them satisfies', () => {
    expectAllowed(check(doctor(), 'create', PATIENT_RECORD, facts()), 'opening-with-consent');
    const pro = (doctor() as Extract<Principal, { kind: 'practitioner' }>).professional;
    expect(openingConsentDecision(pro, authorising('pr-doctor'))).to.deep.equal({ allow: true, reason: 'opening-with-consent' });
    expect(openingConsentDecision(pro, facts())).to.deep.equal({ allow: false, reason: 'opening-consent-missing', level: 'patient' });
    expectDenied(check(patientUser(), 'create', PATIENT_RECORD, facts()), 'default-deny', 'patient');
  });

  it('when a professional or the patient submits a SubmissionSet (List) with documents, then it is feeding; the insurer may not', () => {
    const lists: PolicyTarget = { kind: 'dmp', part: 'lists' };
    expectAllowed(check(doctor(), 'create', lists, facts()), 'feeding');
    expectAllowed(check(patientUser(), 'create', lists, facts()), 'patient-self');
    expectDenied(check(systemClient, 'create', lists, facts()), 'system-not-allowed', 'patient');
  });

  it('when a professional reads audit traces, then it is allowed for their own traces only', () => {
    expectAllowed(check(nurse(), 'read-audit', DMP, facts()), 'own-traces');
  });

  it('when a system client manages consents or reads traces, then it is refused', () => {
    expectDenied(check(systemClient, 'manage-consent', consent(), facts()), 'system-not-allowed', 'patient');
    expectDenied(check(systemClient, 'read-audit', DMP, facts()), 'system-not-allowed', 'patient');
  });
});

describe('policy decide: rule 9, closed DMP', () => {
  const closed = (f: Partial<PatientFacts> = {}): PatientFacts => facts({ closed: true, authorised: { practitionerIds: ['pr-doctor'], organizationIds: [] }, ...f });

  it('when an authorised professional reads a closed DMP, then it is refused', () => {
    expectDenied(check(doctor(), 'read', document(doc()), closed()), 'dmp-closed', 'patient');
  });

  it('when a professional feeds a closed DMP, then it is refused', () => {
    expectDenied(check(doctor(), 'create', document(doc({ authorPractitionerIds: ['pr-doctor'] })), closed()), 'dmp-closed', 'patient');
  });

  it('when the médecin traitant uses bris de glace on a closed DMP, then it is refused', () => {
    expectDenied(check(doctor('bris_de_glace'), 'read', DMP, closed({ medecinTraitantIds: ['pr-doctor'] })), 'dmp-closed', 'patient');
  });

  it('when the patient reads a closed DMP and its traces, then it is allowed', () => {
    expectAllowed(check(patientUser(), 'read', document(doc()), closed()), 'patient-self');
    expectAllowed(check(patientUser(), 'read-audit', DMP, closed()), 'patient-self');
  });

  it('when the patient reopens a closed DMP, then it is allowed', () => {
    expectAllowed(check(patientUser(), 'reopen', DMP, closed()), 'patient-self');
  });

  it('when the patient deposits or changes consents on a closed DMP, then it is refused until reopened', () => {
    expectDenied(check(patientUser(), 'create', document(a05Doc('DOCPAT01', { depositedByPatient: true })), closed()), 'dmp-closed', 'patient');
    expectDenied(check(patientUser(), 'manage-consent', consent(), closed()), 'dmp-closed', 'patient');
  });

  it('when the legal representative reads a closed DMP, then it is allowed', () => {
    expectAllowed(check(representative(), 'search', DMP, closed()), 'legal-representative');
  });

  it('when the insurer feeds reimbursement data to a closed DMP, then it is refused', () => {
    expectDenied(check(systemClient, 'create', document(a05Doc('REMB')), closed()), 'dmp-closed', 'patient');
  });
});

describe('policy decide: principal kinds', () => {
  it('when a system client feeds reimbursement data, then it is allowed; another type, refused', () => {
    expectAllowed(check(systemClient, 'create', document(a05Doc('REMB')), facts()), 'system-client');
    expectDenied(check(systemClient, 'create', document(doc()), facts()), 'system-not-allowed', 'patient');
  });

  it('when the insurer searches, reads or opens the record itself (the Patient), then it is allowed', () => {
    expectAllowed(check(systemClient, 'search', PATIENT_RECORD, facts()), 'system-client');
    expectAllowed(check(systemClient, 'read', PATIENT_RECORD, facts()), 'system-client');
    expectAllowed(check(systemClient, 'create', PATIENT_RECORD, facts()), 'system-client');
  });

  it("when the insurer reads the record's other data (lists, representatives) or changes the Patient, then it is refused", () => {
    expectDenied(check(systemClient, 'search', DMP, facts()), 'system-not-allowed', 'patient');
    expectDenied(check(systemClient, 'read', DMP, facts()), 'system-not-allowed', 'patient');
    expectDenied(check(systemClient, 'update', PATIENT_RECORD, facts()), 'system-not-allowed', 'patient');
    expectDenied(check(systemClient, 'delete', PATIENT_RECORD, facts()), 'system-not-allowed', 'patient');
  });

  it('when a system client without a DMP role asks anything, then it is refused (deny by default)', () => {
    for (const [action, target] of [['read', PATIENT_RECORD], ['search', PATIENT_RECORD], ['create', PATIENT_RECORD], ['create', document(a05Doc('REMB'))], ['read', document(doc())], ['read-audit', DMP]] as const) {
      expectDenied(check(roleLessSystemClient, action, target, facts()), 'system-not-allowed', 'patient');
    }
  });

  it('when the decision for a system client is asked before the record is known, then it is the same as with the record', () => {
    expect(systemDecision('insurer', 'search', PATIENT_RECORD)).to.deep.equal({ allow: true, reason: 'system-client' });
    expect(systemDecision('insurer', 'search', DMP).allow).to.equal(false);
    expect(systemDecision(undefined, 'search', PATIENT_RECORD).allow).to.equal(false);
    expect(systemDecision('operator', 'read', PATIENT_RECORD).allow, 'operators are not decided here: refused if asked').to.equal(false);
  });

  it('when the server itself acts (internal), then everything is allowed', () => {
    expectAllowed(check(internal, 'delete', document(doc({ labels: ['MASQUE_PS'] })), facts({ closed: true })), 'internal');
  });

  it('when an anonymous caller asks anything, then it is refused by default', () => {
    expectDenied(check(anonymous, 'read', DMP, facts()), 'default-deny', 'patient');
  });

  it('when an action makes no sense on its target, then it is refused by default', () => {
    expectDenied(check(doctor(), 'create', DMP, authorising('pr-doctor')), 'default-deny', 'patient');
    expectDenied(check(patientUser(), 'delete', DMP, facts()), 'default-deny', 'patient');
    expectDenied(check(patientUser(), 'close', document(doc()), facts()), 'default-deny', 'patient');
  });

  it('when a delay setting is negative, then deciding fails loudly instead of showing documents', () => {
    const d = document(doc({ labels: ['INVISIBLE_PATIENT'], deposited: daysAgo(1) }));
    expect(() => check(patientUser(), 'read', d, facts(), { ...OPTIONS, invisiblePatientDelayDays: -1 })).to.throw(RangeError);
  });
});

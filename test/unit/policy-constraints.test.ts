import { expect } from 'chai';
import {
  decide,
  documentMatchesConstraints,
  readableDocumentConstraints,
  type DocumentFacts,
  type PatientFacts,
} from '../../src/policy/decide.js';
import type { Principal } from '../../src/policy/principal.js';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM } from '../../src/dmp/identifiers.js';
import {
  anonymous,
  authorising,
  daysAgo,
  dentist,
  doc,
  doctor,
  facts,
  internal,
  MATRIX,
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

const LABELS = ['MASQUE_PS', 'INVISIBLE_PATIENT', 'INVISIBLE_REPRESENTANTS_LEGAUX'];

/** Every subset of the three TRE_A07 labels. */
const LABEL_SETS: string[][] = Array.from({ length: 8 }, (_, mask) => LABELS.filter((_, i) => mask & (1 << i)));

/** Types: a spread of the matrix (each profession allowed and forbidden), unknown, missing, wrong system. */
const TYPES: { typeCode?: string; typeSystem?: string }[] = [
  { typeCode: '11488-4', typeSystem: LOINC_SYSTEM },
  { typeCode: '11488-4' },
  { typeCode: '68599-0', typeSystem: LOINC_SYSTEM },
  { typeCode: '89601-9', typeSystem: LOINC_SYSTEM },
  { typeCode: '11369-6', typeSystem: LOINC_SYSTEM },
  { typeCode: '80788-3', typeSystem: LOINC_SYSTEM },
  { typeCode: 'REMB', typeSystem: DOC_TYPE_COMPLEMENTARY_SYSTEM },
  { typeCode: 'ATTEST-RESID', typeSystem: DOC_TYPE_COMPLEMENTARY_SYSTEM },
  { typeCode: 'DOCPAT03', typeSystem: DOC_TYPE_COMPLEMENTARY_SYSTEM },
  { typeCode: '11488-4', typeSystem: DOC_TYPE_COMPLEMENTARY_SYSTEM },
  { typeCode: 'UNKNOWN-TYPE', typeSystem: LOINC_SYSTEM },
  {},
];

const DEPOSITED: (string | undefined)[] = [daysAgo(400), daysAgo(30), daysAgo(30, 1), daysAgo(2), undefined, 'not a date'];
const AUTHORS: string[][] = [[], ['pr-someone-else'], ['pr-doctor'], ['pr-nurse', 'pr-doctor'], ['pr-pharmacist'], ['pr-regulator'], ['pr-midwife']];

function* documents(): Generator<DocumentFacts> {
  for (const type of TYPES) {
    for (const labels of LABEL_SETS) {
      for (const deposited of DEPOSITED) {
        for (const authorPractitionerIds of AUTHORS) {
          yield doc({ ...type, labels, deposited, authorPractitionerIds, depositedByPatient: authorPractitionerIds.length === 0 });
        }
      }
    }
  }
}

const PRINCIPALS: [string, Principal, PatientFacts][] = [
  ['authorised doctor', doctor(), authorising('pr-doctor')],
  ['médecin traitant', doctor(), facts({ medecinTraitantIds: ['pr-doctor'] })],
  ['nurse with extended rights', nurse(), facts({ extendedRightsIds: ['pr-nurse'] })],
  ['authorised nurse', nurse(), authorising('pr-nurse')],
  ['nurse authorised through her structure', nurse(), facts({ authorised: { practitionerIds: [], organizationIds: ['st-nurse'] } })],
  ['nurse in bris de glace', nurse('bris_de_glace'), facts()],
  ['nurse in bris de glace, opposed', nurse('bris_de_glace'), facts({ emergencyOpposition: { brisDeGlace: true, centre15: false } })],
  ['regulator in centre 15', regulator(), facts()],
  ['doctor in centre 15 (not a regulator)', doctor('centre_15'), facts()],
  ['authorised dentist', dentist(), authorising('pr-dentist')],
  ['authorised pharmacist', pharmacist(), authorising('pr-pharmacist')],
  ['authorised midwife (SAFE only)', midwife(), authorising('pr-midwife')],
  ['unauthorised doctor', doctor(), facts()],
  ['blocked doctor', doctor(), facts({ authorised: { practitionerIds: ['pr-doctor'], organizationIds: [] }, blocked: { practitionerIds: ['pr-doctor'], organizationIds: [] } })],
  ['authorised doctor, closed DMP', doctor(), facts({ closed: true, authorised: { practitionerIds: ['pr-doctor'], organizationIds: [] } })],
  ['authorised professional of unknown profession', professional({ practitionerId: 'pr-x', profession: '99' }), authorising('pr-x')],
  ['patient', patientUser(), facts()],
  ['patient, closed DMP', patientUser(), facts({ closed: true })],
  ['legal representative', representative(), facts()],
  ['legal representative of an adult', representative(), facts({ isMinor: false })],
  ['another patient', patientUser('pat-stranger'), facts()],
  ['insurer system client', systemClient, facts()],
  ['insurer system client, closed DMP', systemClient, facts({ closed: true })],
  ['system client without a DMP role', roleLessSystemClient, facts()],
  ['internal', internal, facts()],
  ['anonymous', anonymous, facts()],
];

describe('policy constraints: readableDocumentConstraints agrees with decide', () => {
  for (const [name, principal, patientFacts] of PRINCIPALS) {
    it(`when a ${name} searches, then the search filter keeps exactly the documents decide lets them read`, () => {
      const constraints = readableDocumentConstraints(principal, patientFacts, OPTIONS);
      let checked = 0;
      let readable = 0;
      for (const d of documents()) {
        const decision = decide(principal, 'read', { kind: 'document', document: d }, patientFacts, OPTIONS);
        expect(documentMatchesConstraints(d, constraints), `${JSON.stringify(d)} → ${JSON.stringify(decision)}`).to.equal(decision.allow);
        expect(decide(principal, 'search', { kind: 'document', document: d }, patientFacts, OPTIONS)).to.deep.equal(decision);
        checked += 1;
        if (decision.allow) readable += 1;
      }
      expect(checked).to.equal(TYPES.length * LABEL_SETS.length * DEPOSITED.length * AUTHORS.length);
      // Only the server reads everything; every principal the gate lets in reads some of the documents.
      expect(readable === checked, 'reads every document').to.equal(principal.kind === 'internal');
      expect(readable > 0, 'reads some document').to.equal(!constraints.none);
    });
  }
});

describe('policy constraints: shape', () => {
  it('when an authorised nurse searches, then the filter lists the matrix types, hides MASQUE_PS and spares her own documents', () => {
    const c = readableDocumentConstraints(nurse(), authorising('pr-nurse'), OPTIONS);
    expect(c.none).to.equal(false);
    if (c.none) return;
    expect(c.allowedTypeCodes).to.deep.equal(MATRIX.readableTypes('60', undefined));
    expect(c.allowedTypes?.map((t) => t.code)).to.deep.equal(c.allowedTypeCodes);
    expect(c.hiddenLabels).to.deep.equal(['MASQUE_PS']);
    expect(c.exceptAuthorId).to.equal('pr-nurse');
    expect(c.visibleAfter).to.equal(undefined);
  });

  it('when the médecin traitant searches, then no label is hidden', () => {
    const c = readableDocumentConstraints(doctor(), facts({ medecinTraitantIds: ['pr-doctor'] }), OPTIONS);
    expect(!c.none && c.hiddenLabels).to.deep.equal([]);
  });

  it('when the patient searches, then INVISIBLE_PATIENT documents are kept only when deposited 30 days ago or earlier', () => {
    const c = readableDocumentConstraints(patientUser(), facts(), OPTIONS);
    expect(c).to.deep.equal({ none: false, hiddenLabels: [], visibleAfter: { label: 'INVISIBLE_PATIENT', depositedAtOrBefore: daysAgo(30) } });
  });

  it('when a legal representative searches, then INVISIBLE_REPRESENTANTS_LEGAUX documents are hidden too', () => {
    const c = readableDocumentConstraints(representative(), facts(), OPTIONS);
    expect(!c.none && c.hiddenLabels).to.deep.equal(['INVISIBLE_REPRESENTANTS_LEGAUX']);
  });

  it('when the patient-level gate refuses, then the filter keeps nothing and says why', () => {
    expect(readableDocumentConstraints(doctor(), facts(), OPTIONS)).to.deep.equal({ none: true, reason: 'not-authorised' });
    expect(readableDocumentConstraints(roleLessSystemClient, facts(), OPTIONS)).to.deep.equal({ none: true, reason: 'system-not-allowed' });
  });

  it("when the insurer searches a record's documents, then only reimbursement documents (REMB of TRE_A05) pass", () => {
    const c = readableDocumentConstraints(systemClient, facts(), OPTIONS);
    expect(!c.none && c.allowedTypeCodes).to.deep.equal(['REMB']);
  });
});

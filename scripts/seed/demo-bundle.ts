/**
 * Demo data set: one FHIR transaction Bundle (structures, professionals, patients with test INS,
 * DocumentReference + Binary pairs, Consents). Everything is fixed: two calls give equal bundles.
 * Every person, number and structure here is fictitious.
 */
import { createHash } from 'node:crypto';
import type {
  Binary,
  Bundle,
  BundleEntry,
  CodeableConcept,
  Consent,
  DocumentReference,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import * as ids from '../../src/dmp/identifiers.js';
import { makeTestIns } from '../../src/dmp/ins.js';

// ---------------------------------------------------------------------------
// Data tables
// ---------------------------------------------------------------------------

interface DemoOrganization {
  key: string;
  name: string;
  finess: string; // fictitious, Luhn key valid
  line: string;
  postalCode: string;
  city: string;
  facilityType: string; // TRE_R02 SAxx, copied to the documents it keeps
  practiceSetting: string; // TRE_A01
}

const ORGANIZATIONS: readonly DemoOrganization[] = [
  { key: 'hospital', name: 'Centre hospitalier de démonstration', finess: '750999997', line: '1 rue de l\'Exemple', postalCode: '75014', city: 'Paris', facilityType: 'SA01', practiceSetting: 'ETABLISSEMENT' },
  { key: 'lab', name: 'Laboratoire de biologie médicale de démonstration', finess: '750999906', line: '12 avenue du Test', postalCode: '75015', city: 'Paris', facilityType: 'SA25', practiceSetting: 'AMBULATOIRE' },
  { key: 'msp', name: 'Maison de santé pluriprofessionnelle de démonstration', finess: '920999901', line: '3 place de la Démo', postalCode: '92120', city: 'Montrouge', facilityType: 'SA52', practiceSetting: 'AMBULATOIRE' },
];

interface DemoPractitioner {
  key: string;
  rpps: string; // 11 digits, test-card range 99700..., Luhn key valid
  family: string;
  given: string;
  prefix?: string;
  profession: keyof typeof PROFESSION_DISPLAY;
  speciality?: keyof typeof SPECIALITY_DISPLAY;
  organization: string;
}

const PROFESSION_DISPLAY = {
  [ids.PROFESSION.MEDECIN]: 'Médecin',
  [ids.PROFESSION.PHARMACIEN]: 'Pharmacien',
  [ids.PROFESSION.CHIRURGIEN_DENTISTE]: 'Chirurgien-Dentiste',
  [ids.PROFESSION.SAGE_FEMME]: 'Sage-Femme',
  [ids.PROFESSION.INFIRMIER]: 'Infirmier',
} as const;

const SPECIALITY_DISPLAY = { SM54: 'Médecine générale', SCD01: 'Orthopédie dento-faciale' } as const;

const PRACTITIONERS: readonly DemoPractitioner[] = [
  { key: 'gp', rpps: '99700100011', family: 'DURAND', given: 'Hélène', prefix: 'Dr', profession: ids.PROFESSION.MEDECIN, speciality: 'SM54', organization: 'msp' },
  { key: 'pharmacist', rpps: '99700100029', family: 'LEROY', given: 'Marc', profession: ids.PROFESSION.PHARMACIEN, organization: 'lab' },
  { key: 'nurse', rpps: '99700100037', family: 'GARNIER', given: 'Sophie', profession: ids.PROFESSION.INFIRMIER, organization: 'msp' },
  { key: 'dentist', rpps: '99700100045', family: 'BENALI', given: 'Karim', prefix: 'Dr', profession: ids.PROFESSION.CHIRURGIEN_DENTISTE, speciality: 'SCD01', organization: 'msp' },
  { key: 'midwife', rpps: '99700100052', family: 'FAURE', given: 'Julie', profession: ids.PROFESSION.SAGE_FEMME, organization: 'hospital' },
];

interface DemoPatient {
  key: string;
  gender: 'male' | 'female';
  family: string; // INS traits: upper case, no diacritics (RNIV)
  givenNames: readonly string[];
  birthDate: string;
  birthInsee: string; // COG commune code, also the NIR place of birth (2A/2B only for births from 1976)
  birthCity: string;
  order: string; // NIR order number (3 digits)
  validationMode: 'CN' | 'LEP'; // identity document checked: ID card / parents' family book
}

const PATIENTS: readonly DemoPatient[] = [
  { key: 'lambert', gender: 'female', family: 'LAMBERT', givenNames: ['CLAIRE', 'MARIE'], birthDate: '1978-03-14', birthInsee: '75114', birthCity: 'Paris 14e Arrondissement', order: '005', validationMode: 'CN' },
  { key: 'santoni', gender: 'male', family: 'SANTONI', givenNames: ['PAUL', 'ANTOINE'], birthDate: '1981-11-02', birthInsee: '2A004', birthCity: 'Ajaccio', order: '012', validationMode: 'CN' },
  { key: 'moreau', gender: 'female', family: 'MOREAU', givenNames: ['LEA', 'JEANNE'], birthDate: '2015-06-21', birthInsee: '69383', birthCity: 'Lyon 3e Arrondissement', order: '123', validationMode: 'LEP' },
  { key: 'bertrand', gender: 'male', family: 'BERTRAND', givenNames: ['JEAN-MARC', 'LUC'], birthDate: '1990-01-08', birthInsee: '97105', birthCity: 'Basse-Terre', order: '017', validationMode: 'CN' },
];

/** typeCode (LOINC, dmp-domain.md §2.2) → ANS display and TRE_A03 class (our reading of ASS_X04). */
const DOC_TYPES = {
  '11488-4': { display: 'CR ou fiche de consultation ou de visite', classCode: '10' },
  '11502-2': { display: "CR d'examens biologiques", classCode: '10' },
  '34112-3': { display: 'CR hospitalier (séjour)', classCode: '10' },
  '60591-5': { display: 'Synthèse médicale', classCode: '11' },
  '57833-6': { display: 'Prescription de produits de santé', classCode: '42' },
  '11506-3': { display: 'CR ou fiche de suivi de soins par auxiliaire médical', classCode: '10' },
} as const;

const DOC_CLASS_DISPLAY: Readonly<Record<string, string>> = { '10': 'Compte rendu', '11': 'Synthèse', '42': 'Prescription' };

type ContentKind = 'pdf' | 'text';

const CONTENT_KINDS: Readonly<Record<ContentKind, { contentType: string; formatCode: string }>> = {
  pdf: { contentType: 'application/pdf', formatCode: 'urn:ihe:iti:xds-sd:pdf:2008' },
  text: { contentType: 'text/plain', formatCode: 'urn:ihe:iti:xds-sd:text:2008' },
};

interface DemoDocument {
  key: string;
  patient: string;
  author: string; // practitioner key; custodian and context come from the author's structure
  typeCode: keyof typeof DOC_TYPES;
  title: string;
  serviceStart: string;
  date: string;
  kind: ContentKind;
  visibility?: keyof typeof ids.VISIBILITY;
  lines: readonly string[];
}

const DOCUMENTS: readonly DemoDocument[] = [
  { key: 'lambert-consultation', patient: 'lambert', author: 'gp', typeCode: '11488-4', title: 'Consultation de médecine générale', serviceStart: '2024-01-15T09:30:00+01:00', date: '2024-01-15T10:05:00+01:00', kind: 'pdf',
    lines: ['Compte rendu de consultation', 'Patiente : Claire LAMBERT, née le 14/03/1978', 'Motif : bilan annuel. Examen clinique normal.', 'TA 12/8, poids stable. Pas de traitement en cours.', 'Dr Hélène DURAND, médecine générale'] },
  { key: 'lambert-biologie', patient: 'lambert', author: 'pharmacist', typeCode: '11502-2', title: 'Bilan sanguin', serviceStart: '2024-01-18T08:00:00+01:00', date: '2024-01-18T16:20:00+01:00', kind: 'pdf',
    lines: ["Compte rendu d'examens biologiques", 'Hémoglobine : 13,5 g/dL (12,0 - 16,0)', 'Glycémie à jeun : 0,92 g/L (0,70 - 1,10)', 'Créatinine : 68 µmol/L (45 - 90)', 'Biologiste : Marc LEROY'] },
  { key: 'lambert-sejour', patient: 'lambert', author: 'midwife', typeCode: '34112-3', title: 'Séjour en maternité', serviceStart: '2023-09-02T14:00:00+02:00', date: '2023-09-05T11:00:00+02:00', kind: 'pdf', visibility: 'MASQUE_PS',
    lines: ["Compte rendu d'hospitalisation, maternité", 'Séjour du 02/09/2023 au 05/09/2023', 'Accouchement par voie basse, suites simples.', 'Sage-femme : Julie FAURE'] },
  { key: 'santoni-vsm', patient: 'santoni', author: 'gp', typeCode: '60591-5', title: 'Volet de synthèse médicale', serviceStart: '2024-02-01T11:00:00+01:00', date: '2024-02-01T11:30:00+01:00', kind: 'text',
    lines: ['Volet de synthèse médicale', 'Patient : Paul SANTONI, né le 02/11/1981', 'Antécédents : hypertension artérielle, diabète de type 2.', 'Traitements : metformine, ramipril.', 'Allergies : aucune connue.'] },
  { key: 'santoni-ordonnance', patient: 'santoni', author: 'gp', typeCode: '57833-6', title: 'Ordonnance', serviceStart: '2024-02-01T11:00:00+01:00', date: '2024-02-01T11:35:00+01:00', kind: 'text',
    lines: ['Ordonnance', 'Metformine 1000 mg : un comprimé matin et soir, pendant 3 mois.', 'Ramipril 5 mg : un comprimé le matin, pendant 3 mois.'] },
  { key: 'moreau-odf', patient: 'moreau', author: 'dentist', typeCode: '11488-4', title: "Consultation d'orthopédie dento-faciale", serviceStart: '2024-03-06T14:30:00+01:00', date: '2024-03-06T15:00:00+01:00', kind: 'text',
    lines: ["Consultation d'orthopédie dento-faciale", 'Patiente : Léa MOREAU, 8 ans, accompagnée de sa mère.', 'Bilan orthodontique : surveillance, pas de traitement immédiat.', 'Prochain contrôle dans 6 mois.'] },
  { key: 'bertrand-biologie', patient: 'bertrand', author: 'pharmacist', typeCode: '11502-2', title: 'Bilan biologique spécialisé', serviceStart: '2024-04-10T08:15:00+02:00', date: '2024-04-12T17:00:00+02:00', kind: 'pdf', visibility: 'INVISIBLE_PATIENT',
    lines: ["Compte rendu d'examens biologiques", 'Patient : Jean-Marc BERTRAND', 'Résultat à commenter lors de la consultation d\'annonce.', 'Biologiste : Marc LEROY'] },
  { key: 'bertrand-soins', patient: 'bertrand', author: 'nurse', typeCode: '11506-3', title: 'Suivi de soins infirmiers', serviceStart: '2024-04-15T09:00:00+02:00', date: '2024-04-15T09:40:00+02:00', kind: 'text',
    lines: ['Suivi de soins infirmiers', 'Pansement de plaie de la jambe droite, évolution favorable.', 'Prochain passage dans 48 heures.', 'Infirmière : Sophie GARNIER'] },
];

interface DemoConsent {
  key: string;
  patient: string;
  practitioner: string;
  dateTime: string;
  end: string;
}

const CONSENTS: readonly DemoConsent[] = [
  { key: 'lambert-dentist', patient: 'lambert', practitioner: 'dentist', dateTime: '2024-03-01T10:00:00+01:00', end: '2025-03-01T10:00:00+01:00' },
  { key: 'santoni-pharmacist', patient: 'santoni', practitioner: 'pharmacist', dateTime: '2024-01-20T09:00:00+01:00', end: '2025-01-20T09:00:00+01:00' },
];

// ---------------------------------------------------------------------------
// Bundle
// ---------------------------------------------------------------------------

/** The demo transaction Bundle (urn:uuid fullUrls, POST entries, references inside the bundle). */
export function buildDemoBundle(): Bundle {
  const entries: BundleEntry[] = [
    ...ORGANIZATIONS.map((org) => entry(`Organization/${org.key}`, organization(org))),
    ...PRACTITIONERS.map((p) => entry(`Practitioner/${p.key}`, practitioner(p))),
    ...PRACTITIONERS.map((p) => entry(`PractitionerRole/${p.key}`, practitionerRole(p))),
    ...PATIENTS.map((p) => entry(`Patient/${p.key}`, patient(p))),
    ...DOCUMENTS.flatMap(documentEntries),
    ...CONSENTS.map((c) => entry(`Consent/${c.key}`, consent(c))),
  ];
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

/** Name-based UUID (SHA-1 of a fixed prefix + name, version/variant bits set like UUID v5). */
export function demoUuid(name: string): string {
  const bytes = createHash('sha1').update(`dmp-fhir-server/demo/${name}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

function fullUrl(key: string): string {
  return `urn:uuid:${demoUuid(key)}`;
}

/** Reference to another entry; T follows the element it is assigned to. */
function ref<T extends Resource>(key: string): Reference<T> {
  return { reference: fullUrl(key) };
}

function entry(key: string, resource: Resource): BundleEntry {
  return { fullUrl: fullUrl(key), resource, request: { method: 'POST', url: resource.resourceType } };
}

function concept(system: string, code: string, display?: string): CodeableConcept {
  return { coding: [display === undefined ? { system, code } : { system, code, display }] };
}

function byKey<T extends { key: string }>(rows: readonly T[], key: string): T {
  const row = rows.find((r) => r.key === key);
  if (row === undefined) throw new Error(`demo data: unknown key ${key}`);
  return row;
}

// ---------------------------------------------------------------------------
// Structures and professionals
// ---------------------------------------------------------------------------

function organization(org: DemoOrganization): Organization {
  return {
    resourceType: 'Organization',
    active: true,
    identifier: [
      { use: 'official', type: concept(ids.FR_CORE_IDENTIFIER_TYPE_SYSTEM, ids.IDENTIFIER_TYPE.FINEG), system: ids.FINESS_SYSTEM, value: org.finess },
      { type: concept(ids.FR_CORE_IDENTIFIER_TYPE_SYSTEM, ids.IDENTIFIER_TYPE.IDNST), system: ids.IDNST_SYSTEM, value: ids.IDNST_FINESS_PREFIX + org.finess },
    ],
    name: org.name,
    address: [{ line: [org.line], postalCode: org.postalCode, city: org.city, country: 'FRA' }],
  };
}

function practitioner(p: DemoPractitioner): Practitioner {
  return {
    resourceType: 'Practitioner',
    active: true,
    identifier: [
      { use: 'official', type: concept(ids.FR_CORE_IDENTIFIER_TYPE_SYSTEM, ids.IDENTIFIER_TYPE.IDNPS), system: ids.IDNPS_SYSTEM, value: ids.IDNPS_RPPS_PREFIX + p.rpps },
      { type: concept(ids.FR_CORE_IDENTIFIER_TYPE_SYSTEM, ids.IDENTIFIER_TYPE.RPPS), system: ids.RPPS_SYSTEM, value: p.rpps },
    ],
    name: [{ use: 'official', family: p.family, given: [p.given], ...(p.prefix ? { prefix: [p.prefix] } : {}) }],
  };
}

function practitionerRole(p: DemoPractitioner): PractitionerRole {
  const role: PractitionerRole = {
    resourceType: 'PractitionerRole',
    active: true,
    practitioner: ref(`Practitioner/${p.key}`),
    organization: ref(`Organization/${p.organization}`),
    code: [concept(ids.PROFESSION_SYSTEM, p.profession, PROFESSION_DISPLAY[p.profession])],
  };
  if (p.speciality) role.specialty = [concept(ids.SPECIALITY_SYSTEM, p.speciality, SPECIALITY_DISPLAY[p.speciality])];
  return role;
}

// ---------------------------------------------------------------------------
// Patients (FR Core Patient INS shape)
// ---------------------------------------------------------------------------

/** The test INS of a demo patient, built from its traits (sex, birth year/month, birth place). */
function insOf(p: DemoPatient): string {
  const [year, month] = p.birthDate.split('-');
  return makeTestIns(p.gender === 'male' ? 1 : 2, year.slice(2), month, p.birthInsee, p.order);
}

function patient(p: DemoPatient): Patient {
  return {
    resourceType: 'Patient',
    extension: [identityReliability(p), birthPlace(p)],
    identifier: [
      {
        use: 'official',
        type: concept(ids.FR_CORE_IDENTIFIER_TYPE_SYSTEM, ids.IDENTIFIER_TYPE.INS_NIR_TEST, 'NIR TEST'),
        system: ids.INS_NIR_TEST_SYSTEM,
        value: insOf(p),
      },
    ],
    active: true,
    name: [
      {
        use: 'official',
        family: p.family,
        given: [p.givenNames[0]],
        extension: [{ url: ids.BIRTH_LIST_GIVEN_NAME_EXTENSION_URL, valueString: p.givenNames.join(' ') }],
      },
    ],
    gender: p.gender,
    birthDate: p.birthDate,
  };
}

function identityReliability(p: DemoPatient): NonNullable<Patient['extension']>[number] {
  const checkedOn = '2023-06-01';
  const modeDisplay = p.validationMode === 'CN' ? "Carte nationale d'identité" : 'Livret de famille des parents';
  return {
    url: ids.IDENTITY_RELIABILITY_EXTENSION_URL,
    extension: [
      { url: 'identityStatus', valueCoding: { system: ids.IDENTITY_STATUS_SYSTEM, code: ids.IDENTITY_STATUS.QUAL, display: 'Identité qualifiée' } },
      { url: 'methodCollection', valueCoding: { system: ids.IDENTITY_METHOD_COLLECTION_SYSTEM, code: 'INSI', display: 'Téléservice INSi' } },
      { url: 'dateInterrogationINSi', valueDate: checkedOn },
      { url: 'validationMode', valueCoding: { system: ids.IDENTITY_VALIDATION_MODE_SYSTEM, code: p.validationMode, display: modeDisplay } },
      { url: 'validationDate', valueDate: checkedOn },
    ],
  };
}

function birthPlace(p: DemoPatient): NonNullable<Patient['extension']>[number] {
  return {
    url: ids.BIRTH_PLACE_EXTENSION_URL,
    valueAddress: {
      extension: [{ url: ids.INSEE_CODE_EXTENSION_URL, valueCoding: { system: ids.INSEE_COMMUNE_SYSTEM, code: p.birthInsee } }],
      city: p.birthCity,
      country: 'FRA',
    },
  };
}

// ---------------------------------------------------------------------------
// Documents: DocumentReference (ITI-65 shape) + Binary
// ---------------------------------------------------------------------------

function documentEntries(doc: DemoDocument): BundleEntry[] {
  const bytes = documentBytes(doc);
  const binary: Binary = {
    resourceType: 'Binary',
    contentType: CONTENT_KINDS[doc.kind].contentType,
    securityContext: ref(`DocumentReference/${doc.key}`),
    data: bytes.toString('base64'),
  };
  return [entry(`Binary/${doc.key}`, binary), entry(`DocumentReference/${doc.key}`, documentReference(doc, bytes))];
}

function documentBytes(doc: DemoDocument): Buffer {
  return doc.kind === 'pdf' ? buildMinimalPdf(doc.lines) : Buffer.from(doc.lines.join('\n') + '\n', 'utf8');
}

function documentReference(doc: DemoDocument, bytes: Buffer): DocumentReference {
  const type = DOC_TYPES[doc.typeCode];
  const author = byKey(PRACTITIONERS, doc.author);
  const custodian = byKey(ORGANIZATIONS, author.organization);
  return {
    resourceType: 'DocumentReference',
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${demoUuid(`uniqueId/${doc.key}`)}` },
    status: 'current',
    type: concept(ids.LOINC_SYSTEM, doc.typeCode, type.display),
    category: [concept(ids.DOC_CLASS_SYSTEM, type.classCode, DOC_CLASS_DISPLAY[type.classCode])],
    subject: ref(`Patient/${doc.patient}`),
    date: doc.date,
    author: [ref(`Practitioner/${author.key}`)],
    custodian: ref(`Organization/${custodian.key}`),
    securityLabel: securityLabels(doc.visibility),
    content: [
      {
        attachment: {
          contentType: CONTENT_KINDS[doc.kind].contentType,
          language: 'fr-FR',
          url: fullUrl(`Binary/${doc.key}`),
          size: bytes.length,
          hash: createHash('sha1').update(bytes).digest('base64'),
          title: doc.title,
          creation: doc.date,
        },
        format: { system: ids.IHE_FORMAT_CODE_SYSTEM, code: CONTENT_KINDS[doc.kind].formatCode },
      },
    ],
    context: {
      facilityType: concept(ids.FACILITY_TYPE_SYSTEM, custodian.facilityType),
      practiceSetting: concept(ids.PRACTICE_SETTING_SYSTEM, custodian.practiceSetting),
      period: { start: doc.serviceStart },
    },
  };
}

/** Normal confidentiality, plus the DMP visibility flag as its own label (dmp-domain.md §2.6). */
function securityLabels(visibility: DemoDocument['visibility']): CodeableConcept[] {
  const labels = [concept(ids.CONFIDENTIALITY_SYSTEM, 'N', 'normal')];
  if (visibility) labels.push(concept(ids.VISIBILITY_SYSTEM, ids.VISIBILITY[visibility]));
  return labels;
}

// ---------------------------------------------------------------------------
// Consents: patient authorises one professional (dmp-domain.md §7.1)
// ---------------------------------------------------------------------------

function consent(c: DemoConsent): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: concept(ids.CONSENT_SCOPE_SYSTEM, 'patient-privacy', 'Privacy Consent'),
    category: [concept(ids.LOINC_SYSTEM, ids.CONSENT_CATEGORY_LOINC, 'Attestation de consentement')],
    patient: ref(`Patient/${c.patient}`),
    dateTime: c.dateTime,
    performer: [ref(`Patient/${c.patient}`)],
    // R4 invariant ppc-1 wants a policy or a policyRule
    policyRule: concept(ids.ACT_CODE_SYSTEM, 'OPTIN', 'opt-in'),
    provision: {
      type: 'permit',
      period: { start: c.dateTime, end: c.end },
      actor: [
        {
          role: concept(ids.PARTICIPATION_TYPE_SYSTEM, 'IRCP', 'information recipient'),
          reference: ref(`Practitioner/${c.practitioner}`),
        },
      ],
      purpose: [{ system: ids.ACT_REASON_SYSTEM, code: 'TREAT', display: 'treatment' }],
    },
  };
}

// ---------------------------------------------------------------------------
// Minimal PDF
// ---------------------------------------------------------------------------

/**
 * A one-page PDF 1.4 showing `lines` in Helvetica (WinAnsi encoding), with a correct xref table.
 * Lines must be Latin-1 text without C1 controls, so that one character is one byte.
 */
export function buildMinimalPdf(lines: readonly string[]): Buffer {
  const stream = pdfTextStream(lines);
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
  ];
  // The second line is the customary binary comment telling tools the file is not plain text.
  let pdf = '%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefOffset = pdf.length;
  // Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, n/f, 2-byte EOL.
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  pdf += offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('');
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

function pdfTextStream(lines: readonly string[]): string {
  const shown = lines.map((line, i) => `${i === 0 ? '' : 'T* '}(${pdfString(line)}) Tj`);
  return ['BT', '/F1 12 Tf', '16 TL', '56 780 Td', ...shown, 'ET'].join('\n');
}

function pdfString(text: string): string {
  if (/[^\u0020-\u007e\u00a0-\u00ff]/.test(text)) {
    throw new RangeError(`PDF text must be printable Latin-1: ${JSON.stringify(text)}`);
  }
  return text.replace(/[\\()]/g, (c) => `\\${c}`);
}

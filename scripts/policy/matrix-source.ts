/**
 * The habilitation matrix as a readable table: the source `build-matrix.ts` turns into the FHIR
 * ConceptMap `profiles/habilitation-matrix.json`. Edit this file, then run
 * `npx tsx scripts/policy/build-matrix.ts` (a unit test fails when the JSON is not a fresh build).
 *
 * PROVENANCE: built from the facts in dmp-domain.md §3.2 (secondary sources summarising the annex of
 * the arrêté du 26 octobre 2023), NOT from the official annex. A deployment loads the official annex
 * with the setting HABILITATION_MATRIX_FILE.
 */
import { HEALTH_PROFESSIONS } from '../../src/policy/habilitation-matrix.js';

export type TypeSystem = 'loinc' | 'tre-a05';

export interface DocumentTypeRow {
  readonly system: TypeSystem;
  readonly code: string;
  /** ANS display (dmp-domain.md §2.2). */
  readonly display: string;
}

const loinc = (code: string, display: string): DocumentTypeRow => ({ system: 'loinc', code, display });
const a05 = (code: string, display: string): DocumentTypeRow => ({ system: 'tre-a05', code, display });

/** Every typeCode of dmp-domain.md §2.2, both tables, in the doc's order. */
export const DOCUMENT_TYPES: readonly DocumentTypeRow[] = [
  loinc('11488-4', 'CR ou fiche de consultation ou de visite'),
  loinc('34112-3', 'CR hospitalier (séjour)'),
  loinc('11490-0', "Lettre de liaison à la sortie d'un établissement de soins"),
  loinc('18761-7', "Note de transfert (dont lettre de liaison à l'entrée en établissement de soins)"),
  loinc('15507-7', 'CR de passage aux urgences'),
  loinc('11502-2', "CR d'examens biologiques"),
  loinc('18748-4', "CR d'imagerie médicale"),
  loinc('34874-8', 'CR opératoire'),
  loinc('60568-3', "CR d'anatomie et de cytologie pathologiques"),
  loinc('51969-4', 'CR de génétique moléculaire'),
  loinc('34749-2', 'CR de consultation pré-anesthésique'),
  loinc('77436-4', "CR d'anesthésie"),
  loinc('34794-8', 'CR de réunion de concertation pluridisciplinaire'),
  loinc('85208-7', 'CR de télémédecine'),
  loinc('75496-0', "Demande d'acte de télémédecine"),
  loinc('60591-5', 'Synthèse médicale'),
  loinc('34133-9', "Synthèse d'épisode de soins"),
  loinc('68599-0', 'Synthèse psychiatrique'),
  loinc('83901-9', 'Bilan psychologique'),
  loinc('57833-6', 'Prescription de produits de santé'),
  loinc('57832-8', 'Prescription de soins'),
  loinc('57828-6', 'Prescription (autre)'),
  loinc('55115-0', "Demande d'actes d'imagerie"),
  loinc('60593-1', 'Dispensation médicamenteuse'),
  loinc('56445-0', 'Bilan médicamenteux (Officine)'),
  loinc('80565-5', "CR d'administration de médicaments"),
  loinc('11369-6', 'Historique des vaccinations'),
  loinc('87273-9', 'Note de vaccination'),
  loinc('96874-3', 'COVID-19 Attestation de vaccination'),
  loinc('89601-9', 'Certificat médical'),
  loinc('74207-2', "Document de liaison d'urgence (DLU)"),
  loinc('78341-5', 'Fiche de transfert vers le service des urgences'),
  loinc('60280-5', 'Fiche de retour du service des urgences'),
  loinc('18776-5', 'Plan personnalisé de soins'),
  loinc('83869-8', 'Plan personnalisé de prévention'),
  loinc('68817-6', "Bilan de santé et de prévention de l'enfant"),
  loinc('59283-2', "CR d'examen de l'enfant"),
  // The five obstetric syntheses, displays in the order dmp-domain.md §2.2 lists them.
  loinc('57055-6', 'Synthèse obstétricale : antepartum'),
  loinc('57057-2', 'Synthèse obstétricale : salle de naissance (mère)'),
  loinc('57075-4', 'Synthèse obstétricale : salle de naissance (enfant)'),
  loinc('89235-6', 'Synthèse obstétricale : suites de couches'),
  loinc('78489-2', 'Synthèse obstétricale : enfant en maternité'),
  loinc('11506-3', 'CR ou fiche de suivi de soins par auxiliaire médical'),
  loinc('96163-1', 'Bilan de soins infirmiers'),
  loinc('28653-4', 'Document du secteur social / médico-social'),
  loinc('80788-3', "Projet personnalisé d'accompagnement"),
  loinc('83981-1', 'Lettre de liaison à la sortie d\'une structure sociale ou médico-sociale'),
  loinc('88348-8', 'Lettre de liaison à l\'entrée en structure sociale ou médico-sociale'),
  loinc('59284-0', 'Attestation de consentement'),
  loinc('51851-4', 'Document administratif'),
  loinc('101881-1', "Carte d'implant"),

  a05('REMB', 'Données de remboursement'),
  a05('EXPPAT_3', 'Directives anticipées'),
  a05('EXPPAT_1', 'Volontés et droits du patient'),
  a05('EXPPAT_2', 'Autre document du patient'),
  a05('SYNTH', 'Synthèse'),
  a05('PROT_ALD', 'Protocole de soins ALD'),
  a05('IMG-KOS', "Référence d'objets d'un examen d'imagerie (DICOM KOS)"),
  a05('DOCPAT01', 'Document du patient : synthèse'),
  a05('DOCPAT02', 'Document du patient : traitement'),
  a05('DOCPAT03', 'Document du patient : compte rendu'),
  a05('DOCPAT04', 'Document du patient : imagerie'),
  a05('DOCPAT05', 'Document du patient : biologie'),
  a05('DOCPAT06', 'Document du patient : prévention'),
  a05('DOCPAT07', 'Document du patient : certificat'),
  a05('DOCPAT08', 'Document du patient : profil médical Mon espace santé'),
  a05('DOCPAT09', 'Document du patient : administratif'),
  a05('PRESC-BIO', 'Prescription de biologie'),
  a05('PRESC-KINE', 'Prescription de kinésithérapie'),
  a05('PRESC-INF', 'Prescription de soins infirmiers'),
  a05('PRESC-PEDI', 'Prescription de pédicurie-podologie'),
  a05('PRESC-ORTHOPHO', "Prescription d'orthophonie"),
  a05('PRESC-ORTHOPTIE', "Prescription d'orthoptie"),
  a05('PRESC-AAT', "Prescription d'arrêt de travail"),
  a05('ATTEST-RESID', 'Attestation de résidence'),
  a05('ATTEST-HEBGT', "Attestation d'hébergement"),
  a05('ATTEST-DROITS-AM', "Attestation de droits à l'Assurance Maladie"),
  a05('ATTEST-ASS-COMPL', "Attestation d'assurance complémentaire"),
  a05('PIECE-IDENTITE', "Pièce d'identité"),
  a05('AUTORIS-SOINS', 'Autorisation de soins'),
  a05('FICHE-CONTACTS', 'Fiche contacts'),
  a05('CERT_DECL', 'Certificat, déclaration'),
  a05('DISP_AUT', 'Dispositif / autorisation (administratif)'),
  a05('BIL_AUTO', "Bilan d'autonomie"),
  a05('EXPORT_DUI', 'Export du dossier usager informatisé'),
];

// ---------------------------------------------------------------------------------------------
// Named families of types, so each profession's rule reads as a sentence
// ---------------------------------------------------------------------------------------------

/** Psychiatric synthesis and psychological assessment: published exclusions of nurses and dentists. */
export const PSYCHIATRY = ['68599-0', '83901-9'] as const;
/** Telemedicine request: published exclusion of nurses and dentists. */
export const TELEMEDICINE_REQUEST = ['75496-0'] as const;
/** Child health and prevention assessment: published exclusion of nurses. */
export const CHILD_PREVENTION = ['68817-6'] as const;
/** Medical certificates (published exclusion of nurses: 89601-9) and, by analogy, the other certificate types. */
export const CERTIFICATES = ['89601-9', 'CERT_DECL', 'DOCPAT07'] as const;
/**
 * Social and medico-social documents (80788-3 and 83981-1 are published exclusions of dentists;
 * 88348-8, the entry letter, is the counterpart of 83981-1; the rest are of the same sector).
 */
export const SOCIAL_SECTOR = ['28653-4', '80788-3', '83981-1', '88348-8', 'BIL_AUTO', 'EXPORT_DUI'] as const;
/**
 * Patient-private administrative papers, of no use for care. ATTEST-RESID is the one published
 * exclusion of doctors, the broadest profession: every other profession is excluded from it too.
 */
export const PRIVATE_ADMINISTRATIVE = [
  'ATTEST-RESID', 'ATTEST-HEBGT', 'ATTEST-DROITS-AM', 'ATTEST-ASS-COMPL', 'PIECE-IDENTITE', '51851-4', 'DISP_AUT', 'DOCPAT09',
] as const;
/**
 * Reimbursement history: it names every consultation and dispensing, psychiatric and psychological
 * care included, so it is readable only by a profession that may read PSYCHIATRY (else it leaks it).
 */
export const REIMBURSEMENT = ['REMB'] as const;
/** The patient's own expression (wishes and rights, advance directives). */
export const PATIENT_WISHES = ['EXPPAT_1', 'EXPPAT_2', 'EXPPAT_3'] as const;

/**
 * SAFE: what a profession with no published row may read. Low sensitivity, and useful to whoever
 * treats the patient: vaccination history / notes / COVID attestation, and the implant card (MRI,
 * devices). Not the DLU or any synthesis: they summarise history, treatments and diagnoses.
 */
export const SAFE = ['11369-6', '87273-9', '96874-3', '101881-1'] as const;

// ---------------------------------------------------------------------------------------------
// Profession rows
// ---------------------------------------------------------------------------------------------

export type Rule =
  /** Every document type except these. */
  | { readonly allBut: readonly string[] }
  /** These document types only. */
  | { readonly only: readonly string[] };

export interface ProfessionRow {
  /** TRE_G15 code. */
  readonly profession: string;
  /** `published`: dmp-domain.md §3.2 gives the row; `chosen`: we chose it; `safe`: no published row. */
  readonly basis: 'published' | 'chosen' | 'safe';
  /** Why, in one sentence (goes into the ConceptMap description). */
  readonly why: string;
  readonly rule: Rule;
  /** Extra types a speciality (TRE_R38) also reads (ConceptMap `dependsOn`). None is published. */
  readonly specialities?: readonly { readonly speciality: string; readonly alsoReads: readonly string[] }[];
}

/** The rows with a basis; every other health profession of TRE_G15 gets SAFE. */
export const PROFESSION_ROWS: readonly ProfessionRow[] = [
  {
    profession: '10',
    basis: 'published',
    why: 'Médecins: everything except ATTEST-RESID (§3.2).',
    rule: { allBut: ['ATTEST-RESID'] },
  },
  {
    profession: '60',
    basis: 'published',
    why:
      'Infirmiers: everything except the published exclusions (75496-0, 68599-0, 83901-9, 68817-6, 89601-9), ' +
      'plus the other certificate types, the private administrative papers and REMB (it would reveal psychiatric care).',
    rule: { allBut: [...TELEMEDICINE_REQUEST, ...PSYCHIATRY, ...CHILD_PREVENTION, ...CERTIFICATES, ...PRIVATE_ADMINISTRATIVE, ...REIMBURSEMENT] },
  },
  {
    profession: '40',
    basis: 'published',
    why:
      'Chirurgiens-dentistes: everything except the published exclusions (80788-3, 75496-0, 83981-1, 83901-9, 68599-0), ' +
      'plus 88348-8 (counterpart of 83981-1), the private administrative papers and REMB.',
    rule: { allBut: ['80788-3', '83981-1', '88348-8', ...TELEMEDICINE_REQUEST, ...PSYCHIATRY, ...PRIVATE_ADMINISTRATIVE, ...REIMBURSEMENT] },
  },
  {
    profession: '21',
    basis: 'chosen',
    why:
      'Pharmaciens ("broad but narrower than doctors", no published list): every care document a pharmacist uses to dispense, ' +
      'analyse prescriptions, review medication, vaccinate and report biology (pharmacist biologists); excluded: the union of the ' +
      'nurse and dentist exclusions, the other child reports (59283-2), the social sector, certificates, private administrative ' +
      'papers, REMB, the patient\'s wishes and advance directives (EXPPAT_*) and FICHE-CONTACTS.',
    rule: {
      allBut: [
        ...TELEMEDICINE_REQUEST, ...PSYCHIATRY, ...CHILD_PREVENTION, '59283-2', ...SOCIAL_SECTOR, ...CERTIFICATES,
        ...PRIVATE_ADMINISTRATIVE, ...REIMBURSEMENT, ...PATIENT_WISHES, 'FICHE-CONTACTS',
      ],
    },
  },
  {
    profession: '80',
    basis: 'chosen',
    why:
      'Pédicures-podologues ("large" access, no published list): consultation, hospital, emergency, biology, imaging and ' +
      'operative reports, syntheses, prescriptions, medication and vaccination documents, care plans, ALD protocol, ' +
      'auxiliary and nursing follow-up, implant card and the patient\'s care documents (DOCPAT01-06, 08); not pathology, genetics, ' +
      'anaesthesia, MDT meetings, psychiatry, child and obstetric documents, social sector, certificates, administrative papers, REMB.',
    rule: {
      only: [
        '11488-4', '34112-3', '11490-0', '18761-7', '15507-7', '11502-2', '18748-4', '34874-8', '85208-7',
        '60591-5', '34133-9', '57833-6', '57832-8', '57828-6', '55115-0', '60593-1', '56445-0', '80565-5',
        ...SAFE, '74207-2', '78341-5', '60280-5', '18776-5', '83869-8', '11506-3', '96163-1', '59284-0',
        'SYNTH', 'PROT_ALD', 'IMG-KOS', 'PRESC-BIO', 'PRESC-KINE', 'PRESC-INF', 'PRESC-PEDI', 'AUTORIS-SOINS',
        'DOCPAT01', 'DOCPAT02', 'DOCPAT03', 'DOCPAT04', 'DOCPAT05', 'DOCPAT06', 'DOCPAT08',
      ],
    },
  },
];

/** The row of a health profession with no published row: SAFE only. */
export function safeRow(profession: string): ProfessionRow {
  return {
    profession,
    basis: 'safe',
    why: `${HEALTH_PROFESSIONS[profession] ?? profession}: no published row, SAFE only.`,
    rule: { only: SAFE },
  };
}

/** Every TRE_G15 health profession with its row, in TRE_G15 code order. */
export function allProfessionRows(): ProfessionRow[] {
  return Object.keys(HEALTH_PROFESSIONS)
    .sort()
    .map((code) => PROFESSION_ROWS.find((row) => row.profession === code) ?? safeRow(code));
}

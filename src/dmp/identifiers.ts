/**
 * Identifier systems, code systems and extension URLs of the DMP domain (dmp-domain.md §0-§5, §7).
 * Every other module imports these names instead of repeating the strings.
 */

// ---------------------------------------------------------------------------
// INS (Identité Nationale de Santé), dmp-domain.md §1.1
// ---------------------------------------------------------------------------

/** INS-NIR: definitive NIR matricule (use `official`, or `old` once deactivated). */
export const INS_NIR_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.8';
/** INS-NIA: temporary number while the NIR is not yet known (use fixed `temp`). */
export const INS_NIA_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.9';
/** INS-NIR-TEST: NIR of fictitious test patients (use fixed `official`). */
export const INS_NIR_TEST_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.10';
/** INS-NIR-DEMO: NIR of fictitious demonstration patients (use fixed `official`). */
export const INS_NIR_DEMO_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.11';

/** FR Core identifier-type CodeSystem (its own copy of HL7 v2 table 0203). */
export const FR_CORE_IDENTIFIER_TYPE_SYSTEM = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203';

/** Codes of FR_CORE_IDENTIFIER_TYPE_SYSTEM used by this server. */
export const IDENTIFIER_TYPE = {
  /** definitive NIR */
  INS_NIR: 'INS-NIR',
  /** temporary NIA */
  INS_NIA: 'INS-NIA',
  /** test NIR */
  INS_NIR_TEST: 'INS-NIR-TEST',
  /** demo NIR */
  INS_NIR_DEMO: 'INS-NIR-DEMO',
  /** national professional id (IdNat_PS, e.g. `8` + RPPS) */
  IDNPS: 'IDNPS',
  /** plain 11-digit RPPS number */
  RPPS: 'RPPS',
  /** FINESS of a legal entity */
  FINEJ: 'FINEJ',
  /** FINESS of a geographic entity (site) */
  FINEG: 'FINEG',
  /** national structure id (IdNat_Struct, e.g. `1` + FINESS) */
  IDNST: 'IDNST',
} as const;

/** One kind of INS: its system, its identifier-type code and the `identifier.use` FR Core fixes. */
export interface InsKind {
  readonly system: string;
  readonly typeCode: string;
  readonly use: 'official' | 'temp';
}

/** The four INS kinds FR Core Patient INS allows, in order of preference for display. */
export const INS_KINDS: readonly InsKind[] = [
  { system: INS_NIR_SYSTEM, typeCode: IDENTIFIER_TYPE.INS_NIR, use: 'official' },
  { system: INS_NIA_SYSTEM, typeCode: IDENTIFIER_TYPE.INS_NIA, use: 'temp' },
  { system: INS_NIR_TEST_SYSTEM, typeCode: IDENTIFIER_TYPE.INS_NIR_TEST, use: 'official' },
  { system: INS_NIR_DEMO_SYSTEM, typeCode: IDENTIFIER_TYPE.INS_NIR_DEMO, use: 'official' },
];

/** All INS identifier systems (NIR, NIA, test NIR, demo NIR). */
export const INS_SYSTEMS: readonly string[] = INS_KINDS.map((kind) => kind.system);

// ---------------------------------------------------------------------------
// FR Core Patient INS extensions and identity status, dmp-domain.md §1.3-§1.4
// ---------------------------------------------------------------------------

/** Complex extension carrying the RNIV identity status (sub-extension `identityStatus`, ...). */
export const IDENTITY_RELIABILITY_EXTENSION_URL =
  'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';
/** CodeSystem of the four RNIV statuses PROV / RECUP / VALI / QUAL. */
export const IDENTITY_STATUS_SYSTEM = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identity-status';
/** CodeSystem of how the identity traits were collected (SM, CV, INSI, CB, RFID, AV). */
export const IDENTITY_METHOD_COLLECTION_SYSTEM = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-method-collection';
/** CodeSystem of the identity document checked (CN, PA, LEP, ...). */
export const IDENTITY_VALIDATION_MODE_SYSTEM =
  'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-mode-validation-identity';

/** RNIV identity statuses; only QUAL identities may carry an INS used as the DMP key. */
export const IDENTITY_STATUS = {
  /** provisional */
  PROV: 'PROV',
  /** retrieved from INSi, document not checked */
  RECUP: 'RECUP',
  /** document checked, INS not retrieved */
  VALI: 'VALI',
  /** retrieved from INSi and checked: qualified */
  QUAL: 'QUAL',
} as const;

/** Full space-separated list of birth given names, on the official HumanName. */
export const BIRTH_LIST_GIVEN_NAME_EXTENSION_URL =
  'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name';
/** Standard HL7 birth place extension (valueAddress). */
export const BIRTH_PLACE_EXTENSION_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
/** INSEE (COG) commune code of an Address, valueCoding. */
export const INSEE_CODE_EXTENSION_URL = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code';
/** TRE_R13-CommuneOM: INSEE commune codes incl. overseas (the FR Core INSEE value set draws from it). */
export const INSEE_COMMUNE_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM';

// ---------------------------------------------------------------------------
// Professionals and structures, dmp-domain.md §3.3-§3.4, §5.1
// ---------------------------------------------------------------------------

/** IDNPS assigning authority: national professional id = `8` + RPPS (or `0` + ADELI, ...). */
export const IDNPS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.1';
/** Prefix turning an 11-digit RPPS number into its IdNat_PS. */
export const IDNPS_RPPS_PREFIX = '8';
/** Plain RPPS number as exposed by the Annuaire Santé FHIR API. */
export const RPPS_SYSTEM = 'https://rpps.esante.gouv.fr';
/** IDNST assigning authority: national structure id = `1` + FINESS, `2` + SIREN, `3` + SIRET, ... (FR Core / Annuaire). */
export const IDNST_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.2';
/** Prefix turning a FINESS number into its IdNat_Struct. */
export const IDNST_FINESS_PREFIX = '1';
/** FINESS number system as used by the FR Core Organization profiles (not in dmp-domain.md). */
export const FINESS_SYSTEM = 'https://finess.esante.gouv.fr';

/** TRE_G15 profession codes (10 médecin, 21 pharmacien, 60 infirmier...). */
export const PROFESSION_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante';
/** TRE_R38 ordinal specialities (SMxx doctors, SCDxx dentists, SIxx nurses). */
export const SPECIALITY_SYSTEM =
  'https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale';

/** TRE_G15 codes of the professions the server knows by name. */
export const PROFESSION = {
  MEDECIN: '10',
  PHARMACIEN: '21',
  CHIRURGIEN_DENTISTE: '40',
  SAGE_FEMME: '50',
  INFIRMIER: '60',
} as const;

// ---------------------------------------------------------------------------
// Document metadata, dmp-domain.md §2
// ---------------------------------------------------------------------------

/** LOINC: most DMP typeCodes, and the Consent category 59284-0. */
export const LOINC_SYSTEM = 'http://loinc.org';
/** TRE_A05: non-LOINC DMP typeCodes (REMB, EXPPAT_x, DOCPATxx, PRESC-xxx...). */
export const DOC_TYPE_COMPLEMENTARY_SYSTEM =
  'https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire';
/** TRE_A03: DMP classCode (DocumentReference.category), derived from the typeCode. */
export const DOC_CLASS_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument';
/** TRE_A11 (IHE formatCode OID) as used for content.format. */
export const IHE_FORMAT_CODE_SYSTEM = 'urn:oid:1.3.6.1.4.1.19376.1.2.3';
/** TRE_A06: French (CI-SIS) formatCodes for content.format (urn:asip:ci-sis:hr:2019 reimbursement data, VSM...). */
export const FORMAT_CODE_COMPLEMENTARY_SYSTEM =
  'https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire';
/** TRE_R02: healthcare facility type (context.facilityType, SAxx). */
export const FACILITY_TYPE_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite';
/** TRE_A01: practice setting (context.practiceSetting: AMBULATOIRE, ETABLISSEMENT...). */
export const PRACTICE_SETTING_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice';
/** HL7 v3 confidentiality (N / R / V), the FHIR form of TRE_A08 in securityLabel. */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
/** TRE_A07: DMP visibility flags in securityLabel (MASQUE_PS, INVISIBLE_PATIENT...). */
export const VISIBILITY_SYSTEM =
  'https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument';

/** TRE_A07 codes of the DMP value set JDV_J58; each is an independent securityLabel coding. */
export const VISIBILITY = {
  /** hidden from health professionals by the patient (author and médecin traitant still see it) */
  MASQUE_PS: 'MASQUE_PS',
  /** hidden from the patient until an announcement consultation (max 1 month) */
  INVISIBLE_PATIENT: 'INVISIBLE_PATIENT',
  /** hidden from a minor's legal representatives */
  INVISIBLE_REPRESENTANTS_LEGAUX: 'INVISIBLE_REPRESENTANTS_LEGAUX',
} as const;

/** Extension marking an archived DocumentReference or List (PDSm). */
/** IHE MHD list types (List.code): submissionset, folder. */
export const MHD_LIST_TYPES_SYSTEM = 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes';
/** IHE MHD SubmissionSet sourceId (List.extension, valueIdentifier). */
export const MHD_SOURCE_ID_EXTENSION_URL = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId';
/** IHE MHD SubmissionSet contentTypeCode (List.extension, valueCodeableConcept). */
export const MHD_DESIGNATION_TYPE_EXTENSION_URL = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType';
export const IS_ARCHIVED_EXTENSION_URL = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived';

// ---------------------------------------------------------------------------
// Access modes, Consent and audit, dmp-domain.md §4.1, §7
// ---------------------------------------------------------------------------

/** TRE_R248 access mode (normal / bris_de_glace / centre_15), the OID used in the VIHF. */
export const ACCESS_MODE_SYSTEM = 'urn:oid:1.2.250.1.213.1.1.4.248';
/** HL7 Consent scope (patient-privacy). */
export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
/** HL7 v3 ParticipationType (IRCP for the actor of a Consent provision). */
export const PARTICIPATION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
/** HL7 v3 ActReason (TREAT, ETREAT purposes of use). */
export const ACT_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/** HL7 v3 ActCode (Consent.policyRule such as OPTIN). */
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
/** LOINC code of a consent document, used as Consent.category. */
export const CONSENT_CATEGORY_LOINC = '59284-0';

// ---------------------------------------------------------------------------
// DMP closure and legal representatives, dmp-domain.md §4.2-§4.3, §6 (TD0.2)
// ---------------------------------------------------------------------------

/**
 * Closure of a DMP on its Patient (PDSm4DMP draft `dmp-fermeture`; sub-extensions `dateFermeture`,
 * `motifFermeture`, `raisonFermeture`). The domain doc gives the path only; the base is ours to confirm.
 */
export const DMP_CLOSURE_EXTENSION_URL = 'https://interop.esante.gouv.fr/ig/fhir/dmp/StructureDefinition/dmp-fermeture';
/** Closure reasons (`motifFermeture`), PDSm4DMP draft CodeSystem `dmp-motif-fermeture`. */
export const DMP_CLOSURE_REASON_SYSTEM = 'https://interop.esante.gouv.fr/ig/fhir/dmp/CodeSystem/dmp-motif-fermeture';
/**
 * The closure reasons the server knows: `patient-demande` is the draft's own example; `deces` and
 * `opposition-creation` (an opposition to the DMP's creation, recorded before any DMP) are ours.
 */
export const DMP_CLOSURE_REASONS = {
  PATIENT_REQUEST: 'patient-demande',
  DEATH: 'deces',
  CREATION_OPPOSED: 'opposition-creation',
} as const;
/** HL7 v3 RoleCode (RelatedPerson.relationship: GUARD, PRN, MTH, FTH...). */
export const V3_ROLE_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
/** FR Core contact relationship (RelatedPerson.relationship: CUR représentant légal, GRD tuteur...). */
export const FR_CORE_CONTACT_RELATIONSHIP_SYSTEM = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-contact-relationship';

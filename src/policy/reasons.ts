/**
 * Reason codes of DMP access decisions (issue 4), one table shared by the policy (`decide.ts`), the
 * OperationOutcome of a refusal and the AuditEvent of every access. Codes are stable: audit trails
 * keep them for years. CodeSystem `https://dmp-fhir-server.org/fhir/CodeSystem/dmp-access-reason`.
 */
import type { CodeSystem, Coding } from '@medplum/fhirtypes';

export const ACCESS_REASON_SYSTEM = 'https://dmp-fhir-server.org/fhir/CodeSystem/dmp-access-reason';

/**
 * Where a refusal applies: `patient` = the whole record is refused (403 with an OperationOutcome);
 * `document` = this document is hidden and behaves as absent (404 on read, not listed, not counted).
 */
export type DenialLevel = 'patient' | 'document';

/** HTTP status of a refusal at each level. */
export const DENIAL_STATUS: Readonly<Record<DenialLevel, 403 | 404>> = { patient: 403, document: 404 };

interface ReasonDefinition {
  readonly code: string;
  readonly outcome: 'allow' | 'deny';
  readonly level?: DenialLevel;
  /** Short French label (Coding.display). */
  readonly display: string;
  /** The sentence shown to the user, in French. */
  readonly text: string;
  /** The same sentence in English. */
  readonly english: string;
}

/** Every reason, in the order of the CodeSystem. A unit test fails on duplicate codes. */
export const REASON_LIST = [
  // -- allow ---------------------------------------------------------------------------------
  { code: 'authorised', outcome: 'allow', display: 'Accès autorisé par le patient',
    text: 'Le patient vous a autorisé, vous ou votre structure, à consulter son DMP.',
    english: 'The patient authorised you or your organisation to read their DMP.' },
  { code: 'author', outcome: 'allow', display: 'Auteur du document',
    text: 'Vous êtes l\'auteur de ce document : vous y gardez accès, même s\'il est masqué.',
    english: 'You are the author of this document: you keep access to it, even when it is masked.' },
  { code: 'medecin-traitant', outcome: 'allow', display: 'Médecin traitant DMP',
    text: 'Vous êtes le médecin traitant DMP du patient : vous voyez tout son dossier, y compris les documents masqués.',
    english: 'You are the patient\'s DMP general practitioner: you see the whole record, masked documents included.' },
  { code: 'extended-rights', outcome: 'allow', display: 'Droits étendus accordés par le patient',
    text: 'Le patient vous a accordé les mêmes droits que son médecin traitant, y compris sur les documents masqués.',
    english: 'The patient gave you the same rights as their general practitioner, masked documents included.' },
  { code: 'bris-de-glace', outcome: 'allow', display: 'Accès en bris de glace',
    text: 'Accès d\'urgence (bris de glace) sans autorisation du patient : il est tracé, et le patient et son médecin traitant en seront informés.',
    english: 'Emergency (break-the-glass) access without the patient\'s authorisation: it is audited and the patient and their GP will be told.' },
  { code: 'centre-15', outcome: 'allow', display: 'Accès par le centre de régulation (SAMU-Centre 15)',
    text: 'Accès du médecin régulateur du SAMU-Centre 15 : il est tracé et visible du patient.',
    english: 'Access by the SAMU call-centre regulating physician: it is audited and visible to the patient.' },
  { code: 'patient-self', outcome: 'allow', display: 'Titulaire du DMP',
    text: 'Vous êtes le titulaire de ce DMP.',
    english: 'You are the holder of this DMP.' },
  { code: 'legal-representative', outcome: 'allow', display: 'Représentant légal',
    text: 'Vous agissez en tant que représentant légal du titulaire mineur.',
    english: 'You act as the legal representative of the minor holder.' },
  { code: 'system-client', outcome: 'allow', display: 'Client système',
    text: "Client système de l'assurance maladie : ouverture de DMP, alimentation des données de remboursement, recherche du dossier.",
    english: "The insurer's system client: opening DMPs, feeding reimbursement data, looking records up." },
  { code: 'feeding', outcome: 'allow', display: 'Alimentation du DMP',
    text: 'Un professionnel qui prend en charge le patient peut déposer un document dans son DMP sans autorisation de consultation.',
    english: 'A professional who treats the patient may add a document without a reading authorisation.' },
  { code: 'opening-with-consent', outcome: 'allow', display: 'Ouverture du DMP avec le consentement du patient',
    text: 'Vous ouvrez le DMP du patient en sa présence ; son consentement (autorisation d\'accès qui vous est donnée) est enregistré dans la même transaction.',
    english: "You open the patient's DMP in their presence; their consent (the access authorisation they give you) is recorded in the same transaction." },
  { code: 'consent-recorded', outcome: 'allow', display: 'Autorisation recueillie auprès du patient',
    text: 'Vous enregistrez l\'autorisation d\'accès que le patient vous donne, en sa présence.',
    english: 'You record the access authorisation the patient gives you, in their presence.' },
  { code: 'own-traces', outcome: 'allow', display: 'Traces de vos propres accès',
    text: 'Vous consultez les traces de vos propres accès à ce DMP.',
    english: 'You read the traces of your own accesses to this DMP.' },
  { code: 'internal', outcome: 'allow', display: 'Traitement interne du serveur',
    text: 'Traitement interne du serveur (données de démonstration, tâches planifiées).',
    english: 'Server-internal processing (demo data, jobs).' },

  // -- deny: the whole record (403) ------------------------------------------------------------
  { code: 'not-authorised', outcome: 'deny', level: 'patient', display: 'Pas d\'autorisation du patient',
    text: 'Le patient ne vous a pas autorisé à consulter son DMP : aucune autorisation en cours de validité pour vous ou votre structure.',
    english: 'The patient has not authorised you to read their DMP: no valid authorisation for you or your organisation.' },
  { code: 'blocked', outcome: 'deny', level: 'patient', display: 'Professionnel bloqué par le patient',
    text: 'Le patient vous a bloqué : vous ne pouvez ni consulter ni alimenter son DMP, quel que soit le mode d\'accès.',
    english: 'The patient blocked you: you may neither read nor feed their DMP, whatever the access mode.' },
  { code: 'dmp-closed', outcome: 'deny', level: 'patient', display: 'DMP fermé',
    text: 'Ce DMP est fermé : il ne peut plus être consulté ni alimenté par les professionnels.',
    english: 'This DMP is closed: professionals may no longer read or feed it.' },
  { code: 'emergency-opposed', outcome: 'deny', level: 'patient', display: 'Opposition du patient à l\'accès en urgence',
    text: 'Le patient s\'est opposé à l\'accès à son DMP dans ce mode d\'urgence (bris de glace ou centre 15).',
    english: 'The patient opposed access to their DMP in this emergency mode (break-the-glass or centre 15).' },
  { code: 'not-regulator', outcome: 'deny', level: 'patient', display: 'Réservé au médecin régulateur',
    text: 'L\'accès « centre 15 » est réservé au médecin régulateur du SAMU-Centre 15.',
    english: 'The centre 15 access mode is reserved to the SAMU regulating physician.' },
  { code: 'not-a-health-professional', outcome: 'deny', level: 'patient', display: 'Réservé aux professionnels de santé',
    text: 'L\'accès en bris de glace est réservé aux professionnels de santé.',
    english: 'Break-the-glass access is reserved to health professionals.' },
  { code: 'unknown-profession', outcome: 'deny', level: 'patient', display: 'Profession inconnue de la matrice d\'habilitations',
    text: 'Votre profession n\'est pas connue de la matrice d\'habilitations : aucun accès au DMP n\'est possible.',
    english: 'Your profession is unknown to the habilitation matrix: no access to the DMP is possible.' },
  { code: 'not-author', outcome: 'deny', level: 'patient', display: 'Réservé à l\'auteur du document',
    text: 'Seul l\'auteur du document (ou le patient pour les documents qu\'il a déposés) peut le modifier, le supprimer ou en changer le masquage.',
    english: 'Only the document\'s author (or the patient for documents they deposited) may change it, delete it or change its masking.' },
  { code: 'patient-document-types-only', outcome: 'deny', level: 'patient', display: 'Types de documents du patient uniquement',
    text: 'Le patient ne peut déposer que ses propres documents (types DOCPAT).',
    english: 'The patient may only deposit their own documents (DOCPAT types).' },
  { code: 'reserved-document-type', outcome: 'deny', level: 'patient', display: 'Type de document réservé',
    text: 'Ce type de document est réservé : les données de remboursement (REMB) à l\'Assurance Maladie, les documents DOCPAT au patient.',
    english: 'This document type is reserved: reimbursement data (REMB) to the insurer, DOCPAT documents to the patient.' },
  { code: 'reserved-to-patient', outcome: 'deny', level: 'patient', display: 'Réservé au patient',
    text: 'Seul le patient (ou son représentant légal) peut faire cette action sur son DMP.',
    english: 'Only the patient (or their legal representative) may do this on their DMP.' },
  { code: 'not-own-record', outcome: 'deny', level: 'patient', display: 'DMP d\'une autre personne',
    text: 'Ce DMP n\'est pas le vôtre et vous n\'êtes pas le représentant légal de son titulaire.',
    english: 'This DMP is not yours and you are not the legal representative of its holder.' },
  { code: 'representative-of-adult', outcome: 'deny', level: 'patient', display: 'Titulaire majeur',
    text: 'Le titulaire de ce DMP n\'est plus mineur : son représentant légal n\'agit plus pour lui.',
    english: 'The holder of this DMP is no longer a minor: their legal representative no longer acts for them.' },
  { code: 'system-not-allowed', outcome: 'deny', level: 'patient', display: 'Interdit aux clients système',
    text: "Un client système n'accède au DMP que selon son rôle enregistré : l'assurance maladie ouvre les DMP, les alimente en données de remboursement (qu'elle seule relit) et recherche les dossiers ; elle ne lit ni autres documents, ni autorisations, ni traces. Sans rôle, aucun accès.",
    english: 'A system client reaches the DMP only through its registered role: the insurer opens DMPs, feeds reimbursement data (which only it reads back) and looks records up; it reads no other documents, consents or traces. Without a role, no access.' },
  { code: 'opening-consent-missing', outcome: 'deny', level: 'patient', display: 'Consentement du patient requis pour ouvrir le DMP',
    text: "Pour ouvrir le DMP d'un patient, enregistrez son consentement dans la même transaction (Bundle de type transaction) : le Patient et un Consent actif (permit, finalité TREAT) qui vous autorise.",
    english: "To open a patient's DMP, record their consent in the same transaction Bundle: the Patient and an active Consent (permit, purpose TREAT) authorising you." },
  { code: 'default-deny', outcome: 'deny', level: 'patient', display: 'Refus par défaut',
    text: 'Cette action n\'est prévue par aucune règle d\'accès au DMP : elle est refusée par défaut.',
    english: 'No DMP access rule allows this action: it is denied by default.' },

  // -- deny: this document only (behaves as absent) ----------------------------------------------
  { code: 'matrix-forbids', outcome: 'deny', level: 'document', display: 'Type de document non autorisé pour votre profession',
    text: 'La matrice d\'habilitations ne permet pas à votre profession de consulter ce type de document.',
    english: 'The habilitation matrix does not let your profession read this document type.' },
  { code: 'unknown-document-type', outcome: 'deny', level: 'document', display: 'Type de document inconnu',
    text: 'Ce type de document est inconnu de la matrice d\'habilitations : il n\'est pas consultable.',
    english: 'This document type is unknown to the habilitation matrix: it cannot be read.' },
  { code: 'masked', outcome: 'deny', level: 'document', display: 'Document masqué aux professionnels',
    text: 'Le patient a masqué ce document aux professionnels de santé.',
    english: 'The patient masked this document from health professionals.' },
  { code: 'invisible-to-patient', outcome: 'deny', level: 'document', display: 'Document pas encore visible du patient',
    text: 'Ce document n\'est pas encore visible du patient : il attend une consultation d\'annonce (visible automatiquement après le délai prévu).',
    english: 'This document is not yet visible to the patient: it awaits an announcement consultation (visible automatically after the delay).' },
  { code: 'invisible-to-representatives', outcome: 'deny', level: 'document', display: 'Document non visible des représentants légaux',
    text: 'Ce document n\'est pas visible des représentants légaux du mineur, à sa demande.',
    english: 'This document is hidden from the minor\'s legal representatives, at the minor\'s request.' },
  { code: 'insurer-reimbursement-only', outcome: 'deny', level: 'document', display: 'Hors données de remboursement',
    text: "Le client de l'assurance maladie ne consulte que les données de remboursement (REMB) qu'il alimente.",
    english: "The insurer's client reads only the reimbursement data (REMB) it feeds." },
] as const satisfies readonly ReasonDefinition[];

type Reason = (typeof REASON_LIST)[number];
export type ReasonCode = Reason['code'];
export type AllowReason = Extract<Reason, { outcome: 'allow' }>['code'];
export type DenyReason = Extract<Reason, { outcome: 'deny' }>['code'];
export type PatientLevelDenyReason = Extract<Reason, { level: 'patient' }>['code'];
export type DocumentLevelDenyReason = Extract<Reason, { level: 'document' }>['code'];

/** Every reason by its code. */
export const REASONS: Readonly<Record<ReasonCode, ReasonDefinition>> = Object.fromEntries(
  REASON_LIST.map((r) => [r.code, r])
) as Record<ReasonCode, ReasonDefinition>;

/** The level of a refusal (patient → 403, document → absent). */
export function denialLevel(reason: DenyReason): DenialLevel {
  return REASONS[reason].level ?? 'patient';
}

/** The reason as a Coding, for OperationOutcome.issue.details and AuditEvent (outcomeDesc, purposeOfUse). */
export function reasonCoding(reason: ReasonCode): Coding {
  return { system: ACCESS_REASON_SYSTEM, code: reason, display: REASONS[reason].display };
}

/** The sentence shown to a user: French, then English in parentheses. */
export function reasonText(reason: ReasonCode): string {
  const r = REASONS[reason];
  return `${r.text} (${r.english})`;
}

/** The reasons as a FHIR CodeSystem resource (to serve it read-only next to the habilitation matrix). */
export function reasonCodeSystem(): CodeSystem {
  return {
    resourceType: 'CodeSystem',
    id: 'dmp-access-reason',
    url: ACCESS_REASON_SYSTEM,
    name: 'DmpAccessReason',
    title: 'Motifs des décisions d\'accès au DMP',
    status: 'draft',
    content: 'complete',
    caseSensitive: true,
    description: 'Why an access to a DMP was allowed or denied. Denials carry a level: `patient` (403) or `document` (the document behaves as absent).',
    concept: REASON_LIST.map((r: ReasonDefinition) => ({
      code: r.code,
      display: r.display,
      definition: `${r.text} (${r.english})`,
      property: [
        { code: 'outcome', valueCode: r.outcome },
        ...(r.level ? [{ code: 'level', valueCode: r.level }] : []),
      ],
    })),
    property: [
      { code: 'outcome', description: 'allow or deny', type: 'code' },
      { code: 'level', description: 'patient (403) or document (behaves as absent), for denials', type: 'code' },
    ],
  };
}

/**
 * classCode (TRE_A03, JDV_J57) derived from typeCode (dmp-domain.md §2.1: "classCode is derived from
 * typeCode through the NOS association table ASS_X04-CorrespondanceType-Classe-CISIS"). The server
 * sets `DocumentReference.category` from this table and refuses a document whose category says
 * otherwise: the class is never taken from the client.
 *
 * PROVENANCE: the official ASS_X04 table was not available to us; this is our reading of each type's
 * label against the 11 classes of §2.3 (a compte rendu is class 10, as J57 says, even where a PDSm4DMP
 * example uses 11). Replace it with ASS_X04 when it can be loaded. Every type the habilitation matrix
 * knows has a class here (a unit test checks it).
 */
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM } from './identifiers.js';

/** TRE_A03 class codes with their labels. */
export const DOCUMENT_CLASSES: Readonly<Record<string, string>> = {
  '10': 'Compte rendu',
  '11': 'Synthèse',
  '31': 'Imagerie médicale',
  '42': 'Prescription',
  '43': 'Dispensation',
  '44': 'Plan de soins, protocole de soins',
  '45': 'Traitement administré',
  '52': 'Certificat, déclaration',
  '60': 'Données de remboursement',
  '90': 'Autres documents déposés par le patient',
  '95': 'Document de gestion',
};

const LOINC_CLASSES: Readonly<Record<string, string>> = {
  ...classOf('10', [
    '11488-4', '34112-3', '11490-0', '18761-7', '15507-7', '11502-2', '34874-8', '60568-3', '51969-4', '34749-2', '77436-4', '34794-8',
    '85208-7', '59283-2', '11506-3', '96163-1', '78341-5', '60280-5', '28653-4', '83981-1', '88348-8',
  ]),
  ...classOf('11', ['60591-5', '34133-9', '68599-0', '83901-9', '68817-6', '57055-6', '57057-2', '57075-4', '89235-6', '78489-2', '74207-2']),
  ...classOf('31', ['18748-4']),
  ...classOf('42', ['57833-6', '57832-8', '57828-6', '55115-0', '75496-0']),
  ...classOf('43', ['60593-1', '56445-0']),
  ...classOf('44', ['18776-5', '83869-8', '80788-3']),
  ...classOf('45', ['80565-5', '11369-6', '87273-9']),
  ...classOf('52', ['89601-9', '96874-3', '59284-0', '101881-1']),
  ...classOf('95', ['51851-4']),
};

const A05_CLASSES: Readonly<Record<string, string>> = {
  ...classOf('60', ['REMB']),
  ...classOf('90', ['EXPPAT_1', 'EXPPAT_2', 'EXPPAT_3', 'DOCPAT01', 'DOCPAT02', 'DOCPAT03', 'DOCPAT04', 'DOCPAT05', 'DOCPAT06', 'DOCPAT07', 'DOCPAT08', 'DOCPAT09']),
  ...classOf('11', ['SYNTH']),
  ...classOf('44', ['PROT_ALD']),
  ...classOf('31', ['IMG-KOS']),
  ...classOf('42', ['PRESC-BIO', 'PRESC-KINE', 'PRESC-INF', 'PRESC-PEDI', 'PRESC-ORTHOPHO', 'PRESC-ORTHOPTIE', 'PRESC-AAT']),
  ...classOf('52', ['CERT_DECL']),
  ...classOf('95', ['ATTEST-RESID', 'ATTEST-HEBGT', 'ATTEST-DROITS-AM', 'ATTEST-ASS-COMPL', 'PIECE-IDENTITE', 'AUTORIS-SOINS', 'FICHE-CONTACTS', 'DISP_AUT', 'BIL_AUTO', 'EXPORT_DUI']),
};

function classOf(classCode: string, typeCodes: readonly string[]): Record<string, string> {
  return Object.fromEntries(typeCodes.map((t) => [t, classCode]));
}

/** The class of a document type (LOINC or TRE_A05), or undefined when the type is not a DMP type. */
export function classForType(system: string | undefined, code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (system === LOINC_SYSTEM) return LOINC_CLASSES[code];
  if (system === DOC_TYPE_COMPLEMENTARY_SYSTEM) return A05_CLASSES[code];
  return undefined;
}

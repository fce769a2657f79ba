/**
 * The REMB document of one patient's history, as the two entries of a FHIR transaction: the
 * DocumentReference (MHD / PDSm metadata, dmp-domain.md §2) created only if none carries its
 * business identifier yet, and the Binary holding the CSV bytes, whose securityContext is that
 * DocumentReference (so the DMP rules of the document apply to its content).
 */
import { createHash } from 'node:crypto';
import type { Binary, BundleEntry, DocumentReference } from '@medplum/fhirtypes';
import {
  CONFIDENTIALITY_SYSTEM,
  DOC_CLASS_SYSTEM,
  DOC_TYPE_COMPLEMENTARY_SYSTEM,
  FORMAT_CODE_COMPLEMENTARY_SYSTEM,
  PRACTICE_SETTING_SYSTEM,
} from '../dmp/identifiers.js';
import { REMB_IDENTIFIER_SYSTEM, type PatientHistory } from './history.js';

/** The content's MIME type: the lines as CSV, not the CDA "HR" document the real DMP receives. */
export const REMB_CONTENT_TYPE = 'text/csv';
/** Who writes these documents, when the command is not told otherwise. */
export const DEFAULT_REMB_AUTHOR = 'Assurance Maladie';

export interface RembDocumentOptions {
  /** The Patient's logical id on the server. */
  readonly patientId: string;
  /** When the document is written (DocumentReference.date, attachment.creation). */
  readonly now: Date;
  /** The insurer, as the author's and custodian's display. */
  readonly author?: string;
  /** Ids of the patient's current REMB documents the new history replaces (they become superseded). */
  readonly replaces?: readonly string[];
}

/** `identifier=<system>|<value>`: the If-None-Exist criteria (and search) of a history's document. */
export function rembCriteria(history: Pick<PatientHistory, 'identifier'>): string {
  return `identifier=${encodeURIComponent(`${REMB_IDENTIFIER_SYSTEM}|${history.identifier}`)}`;
}

/** The DocumentReference (fullUrl `docUrl`) pointing at the Binary (fullUrl `binaryUrl`). */
export function rembDocumentReference(history: PatientHistory, binaryUrl: string, opts: RembDocumentOptions): DocumentReference {
  const author = opts.author ?? DEFAULT_REMB_AUTHOR;
  const now = opts.now.toISOString();
  return {
    resourceType: 'DocumentReference',
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${uuidOf(history.identifier)}` },
    identifier: [{ use: 'official', system: REMB_IDENTIFIER_SYSTEM, value: history.identifier }],
    status: 'current',
    docStatus: 'final',
    type: { coding: [{ system: DOC_TYPE_COMPLEMENTARY_SYSTEM, code: 'REMB', display: 'Données de remboursement' }] },
    category: [{ coding: [{ system: DOC_CLASS_SYSTEM, code: '60', display: 'Données de remboursement' }] }],
    subject: { reference: `Patient/${opts.patientId}` },
    date: now,
    author: [{ type: 'Organization', display: author }],
    custodian: { type: 'Organization', display: author },
    description: `${history.lines.length} acte(s) remboursé(s) du ${history.period.start} au ${history.period.end}`,
    securityLabel: [{ coding: [{ system: CONFIDENTIALITY_SYSTEM, code: 'N', display: 'Normal' }] }],
    ...(opts.replaces && opts.replaces.length > 0 ? { relatesTo: opts.replaces.map((id) => ({ code: 'replaces' as const, target: { reference: `DocumentReference/${id}` } })) } : {}),
    content: [
      {
        attachment: {
          contentType: REMB_CONTENT_TYPE,
          language: 'fr-FR',
          url: binaryUrl,
          size: history.content.length,
          hash: createHash('sha1').update(history.content).digest('base64'),
          title: `Historique des remboursements du ${history.period.start} au ${history.period.end}`,
          creation: now,
        },
        format: { system: FORMAT_CODE_COMPLEMENTARY_SYSTEM, code: 'urn:asip:ci-sis:hr:2019', display: 'Historique de remboursements' },
      },
    ],
    context: {
      period: { start: history.period.start, end: history.period.end },
      practiceSetting: { coding: [{ system: PRACTICE_SETTING_SYSTEM, code: 'AMO' }] },
    },
  };
}

/** The Binary of the content, under the DocumentReference at `docUrl`. */
export function rembBinary(history: PatientHistory, docUrl: string): Binary {
  return { resourceType: 'Binary', contentType: REMB_CONTENT_TYPE, securityContext: { reference: docUrl }, data: history.content.toString('base64') };
}

/**
 * The transaction entries of one history: DocumentReference first (the Binary's access is decided
 * through it), created only when no document carries the identifier yet.
 */
export function rembEntries(history: PatientHistory, opts: RembDocumentOptions): BundleEntry[] {
  const docUrl = `urn:uuid:${uuidOf(history.identifier, 'doc')}`;
  const binaryUrl = `urn:uuid:${uuidOf(history.identifier, 'bin')}`;
  return [
    {
      fullUrl: docUrl,
      resource: rembDocumentReference(history, binaryUrl, opts),
      request: { method: 'POST', url: 'DocumentReference', ifNoneExist: rembCriteria(history) },
    },
    { fullUrl: binaryUrl, resource: rembBinary(history, docUrl), request: { method: 'POST', url: 'Binary' } },
  ];
}

/** A UUID (version 5 layout) derived from the identifier, so the same history always gets the same one. */
function uuidOf(identifier: string, salt = ''): string {
  const hex = createHash('sha256').update(`${salt}:${identifier}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

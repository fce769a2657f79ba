/**
 * IHE MHD / PDSm test material: a complete DMP DocumentReference (comprehensive metadata, size and
 * SHA-1 hash of its bytes) and an ITI-65 Provide Document Bundle (SubmissionSet List + documents +
 * Binaries, linked by urn:uuid), each overridable for the rejection tests.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Binary, Bundle, DocumentReference, List, Reference } from '@medplum/fhirtypes';
import {
  CONFIDENTIALITY_SYSTEM,
  FACILITY_TYPE_SYSTEM,
  IHE_FORMAT_CODE_SYSTEM,
  LOINC_SYSTEM,
  MHD_LIST_TYPES_SYSTEM,
  MHD_SOURCE_ID_EXTENSION_URL,
  PRACTICE_SETTING_SYSTEM,
} from '../../src/dmp/identifiers.js';
import { unique } from './fhir.js';

export const UNIQUE_ID_SYSTEM = 'urn:ietf:rfc:3986';

export const sha1 = (bytes: Buffer): string => createHash('sha1').update(bytes).digest('base64');

/** A DocumentReference with every comprehensive element, about `subject`, for `bytes` at `url`. */
export function mhdDocument(subject: Reference, bytes: Buffer, opts: { url?: string; type?: string; authorRef?: string; title?: string } = {}): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    masterIdentifier: { system: UNIQUE_ID_SYSTEM, value: `urn:oid:1.2.250.1.999.${Date.now()}.${Math.floor(Math.random() * 1e9)}` },
    identifier: [{ system: 'urn:test:mhd', value: unique('mhd-doc') }],
    status: 'current',
    type: { coding: [{ system: LOINC_SYSTEM, code: opts.type ?? '11488-4', display: 'CR de consultation' }] },
    subject: subject as Reference<never>,
    date: new Date().toISOString(),
    author: [opts.authorRef ? { reference: opts.authorRef } : { display: 'Dr Jean MARTIN' }],
    custodian: { display: 'Cabinet du Dr MARTIN' },
    securityLabel: [{ coding: [{ system: CONFIDENTIALITY_SYSTEM, code: 'N' }] }],
    content: [
      {
        attachment: {
          contentType: 'text/plain',
          language: 'fr-FR',
          title: opts.title ?? 'Compte rendu de consultation',
          creation: new Date().toISOString(),
          size: bytes.length,
          hash: sha1(bytes),
          ...(opts.url ? { url: opts.url } : { data: bytes.toString('base64') }),
        },
        format: { system: IHE_FORMAT_CODE_SYSTEM, code: 'urn:ihe:iti:xds-sd:text:2008' },
      },
    ],
    context: {
      period: { start: '2026-11-20T09:00:00+01:00' },
      facilityType: { coding: [{ system: FACILITY_TYPE_SYSTEM, code: 'SA07', display: 'Cabinet individuel' }] },
      practiceSetting: { coding: [{ system: PRACTICE_SETTING_SYSTEM, code: 'AMBULATOIRE', display: 'Ambulatoire' }] },
    },
  } as DocumentReference;
}

export interface ProvideBundle {
  readonly bundle: Bundle;
  readonly list: List;
  readonly documents: DocumentReference[];
  readonly bytes: Buffer[];
}

/**
 * An ITI-65 Provide Document Bundle about `subject` with one document per text (List first, then
 * each DocumentReference and its Binary). `edit` may change a document before it is put in.
 */
export function provideDocumentBundle(subject: Reference, texts: string[] = [unique('Compte rendu ')], edit: (doc: DocumentReference, i: number) => DocumentReference = (d) => d): ProvideBundle {
  const listUrl = `urn:uuid:${randomUUID()}`;
  const docUrls = texts.map(() => `urn:uuid:${randomUUID()}`);
  const binUrls = texts.map(() => `urn:uuid:${randomUUID()}`);
  const bytes = texts.map((t) => Buffer.from(t, 'utf8'));
  const documents = bytes.map((b, i) => edit(mhdDocument(subject, b, { url: binUrls[i] }), i));
  const list: List = {
    resourceType: 'List',
    identifier: [{ system: UNIQUE_ID_SYSTEM, value: `urn:oid:1.2.250.1.999.${Date.now()}.1` }],
    extension: [{ url: MHD_SOURCE_ID_EXTENSION_URL, valueIdentifier: { system: UNIQUE_ID_SYSTEM, value: 'urn:oid:1.2.250.1.999.1' } }],
    status: 'current',
    mode: 'working',
    code: { coding: [{ system: MHD_LIST_TYPES_SYSTEM, code: 'submissionset' }] },
    subject: subject as Reference<never>,
    date: new Date().toISOString(),
    entry: docUrls.map((u) => ({ item: { reference: u } })),
  };
  const binaries: Binary[] = bytes.map((b) => ({ resourceType: 'Binary', contentType: 'text/plain', data: b.toString('base64') }));
  return {
    list,
    documents,
    bytes,
    bundle: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: listUrl, resource: list, request: { method: 'POST', url: 'List' } },
        ...documents.flatMap((doc, i) => [
          { fullUrl: docUrls[i], resource: doc, request: { method: 'POST' as const, url: 'DocumentReference' } },
          { fullUrl: binUrls[i], resource: binaries[i], request: { method: 'POST' as const, url: 'Binary' } },
        ]),
      ],
    },
  };
}

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { DocumentReference, StructureDefinition } from '@medplum/fhirtypes';
import { DOC_CLASS_SYSTEM, DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM } from '../../src/dmp/identifiers.js';
import { classForType, DOCUMENT_CLASSES } from '../../src/dmp/type-class.js';
import { attachmentIntegrityIssues, comprehensiveIssues, sha1Base64, withDerivedClass } from '../../src/mhd/document-metadata.js';
import { DOCUMENT_TYPES } from '../../scripts/policy/matrix-source.js';
import { mhdDocument } from '../helpers/mhd.js';

const systemOf = (s: 'loinc' | 'tre-a05'): string => (s === 'loinc' ? LOINC_SYSTEM : DOC_TYPE_COMPLEMENTARY_SYSTEM);

describe('DMP document metadata (type → class, comprehensive metadata, content integrity)', () => {
  it('when any type the habilitation matrix knows is looked up, then it has one of the 11 DMP classes', () => {
    for (const t of DOCUMENT_TYPES) {
      const classCode = classForType(systemOf(t.system), t.code);
      expect(classCode, `${t.code} ${t.display}`).to.be.a('string');
      expect(Object.keys(DOCUMENT_CLASSES)).to.include(classCode);
    }
  });

  it('when the type is looked up in the wrong system or is unknown, then there is no class', () => {
    expect(classForType(DOC_TYPE_COMPLEMENTARY_SYSTEM, '11488-4')).to.equal(undefined);
    expect(classForType(LOINC_SYSTEM, '99999-9')).to.equal(undefined);
    expect(classForType(undefined, 'REMB')).to.equal(undefined);
  });

  it('when known families are looked up, then reports are 10, prescriptions 42, reimbursement 60, patient deposits 90', () => {
    expect(classForType(LOINC_SYSTEM, '11488-4')).to.equal('10');
    expect(classForType(LOINC_SYSTEM, '57833-6')).to.equal('42');
    expect(classForType(DOC_TYPE_COMPLEMENTARY_SYSTEM, 'REMB')).to.equal('60');
    expect(classForType(DOC_TYPE_COMPLEMENTARY_SYSTEM, 'DOCPAT03')).to.equal('90');
  });

  it('when a document has no class, then the derived one is set; with the right one, it is kept; with another, an issue points at category', () => {
    const doc = mhdDocument({ reference: 'Patient/p' }, Buffer.from('x'));
    expect(withDerivedClass(doc).doc.category?.[0].coding?.[0]).to.deep.include({ system: DOC_CLASS_SYSTEM, code: '10' });
    const right = { ...doc, category: [{ coding: [{ system: DOC_CLASS_SYSTEM, code: '10' }] }] };
    expect(withDerivedClass(right).issues).to.deep.equal([]);
    const wrong = withDerivedClass({ ...doc, category: [{ coding: [{ system: DOC_CLASS_SYSTEM, code: '60' }] }] }, 'X');
    expect(wrong.issues[0].expression).to.deep.equal(['X.category']);
  });

  it('when a document of an unknown type is written, then its category is left as the client sent it', () => {
    const doc: DocumentReference = { resourceType: 'DocumentReference', status: 'current', content: [], type: { coding: [{ system: 'urn:local', code: 'X' }] }, category: [{ text: 'local' }] };
    expect(withDerivedClass(doc).doc).to.equal(doc);
  });

  it('when a complete document is checked, then nothing is missing; each removed element is named', () => {
    const doc = mhdDocument({ reference: 'Patient/p' }, Buffer.from('x'), { url: 'urn:uuid:1' });
    expect(comprehensiveIssues(doc, 'D', { urlRequired: true })).to.deep.equal([]);
    const { author: _a, custodian: _c, ...rest } = doc;
    expect(comprehensiveIssues(rest as DocumentReference, 'D', { urlRequired: true }).flatMap((i) => i.expression)).to.deep.equal(['D.author', 'D.custodian']);
  });

  it('when size and hash are checked against the bytes, then a wrong one is named and the SHA-1 is base64', () => {
    const bytes = Buffer.from('abc');
    expect(sha1Base64(bytes)).to.equal('qZk+NkcGgWq6PiVxeFDCbJzQ2J0=');
    expect(attachmentIntegrityIssues({ size: 3, hash: sha1Base64(bytes) }, bytes, 'A')).to.deep.equal([]);
    expect(attachmentIntegrityIssues({ size: 4, hash: 'AAAA' }, bytes, 'A').flatMap((i) => i.expression)).to.deep.equal(['A.size', 'A.hash']);
  });
});

describe('profiles/ dmp-comprehensive-document-reference describes what the submission check enforces', () => {
  const sd = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../profiles/generated/StructureDefinition-dmp-comprehensive-document-reference.json', import.meta.url)), 'utf8')) as StructureDefinition;
  const required = (sd.differential?.element ?? []).filter((e) => (e.min ?? 0) >= 1).map((e) => e.path.replace(/^DocumentReference\./, ''));

  it('when the profile is read, then it requires the comprehensive elements', () => {
    expect(required).to.include.members(['masterIdentifier', 'author', 'custodian', 'date', 'securityLabel', 'content.format', 'context.period.start', 'context.facilityType', 'context.practiceSetting']);
  });

  for (const path of required) {
    it(`when ${path} (required by the profile) is removed from a complete document, then the submission check names it`, () => {
      const doc = structuredClone(mhdDocument({ reference: 'Patient/p' }, Buffer.from('x'), { url: 'urn:uuid:1' })) as unknown as Record<string, unknown>;
      removePath(doc, path.split('.'));
      const expressions = comprehensiveIssues(doc as unknown as DocumentReference, 'D', { urlRequired: true }).flatMap((i) => i.expression ?? []).map((e) => e.replace(/^D\./, '').replace(/\[0\]/g, ''));
      expect(expressions.some((e) => e.startsWith(path) || path.startsWith(e)), `${path}: ${expressions.join(', ')}`).to.equal(true);
    });
  }

  it('when the profile fixes status, then it is current, as the check requires', () => {
    const status = (sd.differential?.element ?? []).find((e) => e.path === 'DocumentReference.status');
    expect(status?.fixedCode ?? status?.patternCode).to.equal('current');
    const doc = mhdDocument({ reference: 'Patient/p' }, Buffer.from('x'), { url: 'urn:uuid:1' });
    expect(comprehensiveIssues({ ...doc, status: 'superseded' }, 'D', { urlRequired: true }).flatMap((i) => i.expression)).to.deep.equal(['D.status']);
  });
});

/** Deletes `path` from `value`, going into the first item of arrays. */
function removePath(value: Record<string, unknown>, path: string[]): void {
  const [head, ...rest] = path;
  if (rest.length === 0) {
    delete value[head];
    return;
  }
  const next = value[head];
  const target = Array.isArray(next) ? next[0] : next;
  if (target && typeof target === 'object') removePath(target as Record<string, unknown>, rest);
}

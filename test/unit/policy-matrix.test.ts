import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ConceptMap } from '@medplum/fhirtypes';
import { renderHabilitationMatrix, PROVENANCE_EXTENSION_URL } from '../../scripts/policy/build-matrix.js';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM, PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../../src/dmp/identifiers.js';
import { validateForWrite } from '../../src/fhir/validate.js';
import {
  DEFAULT_MATRIX_FILE,
  HABILITATION_MATRIX_URL,
  HabilitationMatrix,
  HabilitationMatrixError,
  HEALTH_PROFESSIONS,
  loadMatrix,
} from '../../src/policy/habilitation-matrix.js';

/** Every typeCode of dmp-domain.md §2.2, copied here independently of matrix-source.ts. */
const DOMAIN_LOINC_TYPES = [
  '11488-4', '34112-3', '11490-0', '18761-7', '15507-7', '11502-2', '18748-4', '34874-8', '60568-3', '51969-4', '34749-2',
  '77436-4', '34794-8', '85208-7', '75496-0', '60591-5', '34133-9', '68599-0', '83901-9', '57833-6', '57832-8', '57828-6',
  '55115-0', '60593-1', '56445-0', '80565-5', '11369-6', '87273-9', '96874-3', '89601-9', '74207-2', '78341-5', '60280-5',
  '18776-5', '83869-8', '68817-6', '59283-2', '57055-6', '57057-2', '57075-4', '89235-6', '78489-2', '11506-3', '96163-1',
  '28653-4', '80788-3', '83981-1', '88348-8', '59284-0', '51851-4', '101881-1',
];
const DOMAIN_A05_TYPES = [
  'REMB', 'EXPPAT_3', 'EXPPAT_1', 'EXPPAT_2', 'SYNTH', 'PROT_ALD', 'IMG-KOS',
  ...Array.from({ length: 9 }, (_, i) => `DOCPAT0${i + 1}`),
  'PRESC-BIO', 'PRESC-KINE', 'PRESC-INF', 'PRESC-PEDI', 'PRESC-ORTHOPHO', 'PRESC-ORTHOPTIE', 'PRESC-AAT',
  'ATTEST-RESID', 'ATTEST-HEBGT', 'ATTEST-DROITS-AM', 'ATTEST-ASS-COMPL', 'PIECE-IDENTITE', 'AUTORIS-SOINS', 'FICHE-CONTACTS',
  'CERT_DECL', 'DISP_AUT', 'BIL_AUTO', 'EXPORT_DUI',
];
const SAFE = ['11369-6', '87273-9', '96874-3', '101881-1'];

const matrix = loadMatrix();
const all = matrix.documentTypes().map((t) => t.code);
const readable = (profession: string, speciality?: string): Set<string> => new Set(matrix.readableTypes(profession, speciality));
const excludedFor = (profession: string): string[] => all.filter((code) => !readable(profession).has(code));

function conceptMap(group: ConceptMap['group']): ConceptMap {
  return { resourceType: 'ConceptMap', status: 'draft', group };
}

describe('habilitation matrix: the shipped ConceptMap', () => {
  it('when the matrix is rebuilt from matrix-source.ts, then it equals the committed profiles/habilitation-matrix.json', () => {
    const committed = fs.readFileSync(DEFAULT_MATRIX_FILE, 'utf8');
    expect(renderHabilitationMatrix() === committed, 'run npx tsx scripts/policy/build-matrix.ts').to.equal(true);
  });

  it('when the committed file is validated as FHIR R4, then it is a valid ConceptMap', () => {
    const json = JSON.parse(fs.readFileSync(DEFAULT_MATRIX_FILE, 'utf8')) as ConceptMap;
    expect(() => validateForWrite(json)).not.to.throw();
  });

  it('when its metadata is read, then it is a draft at the expected url stating it is not the official annex', () => {
    const json = JSON.parse(fs.readFileSync(DEFAULT_MATRIX_FILE, 'utf8')) as ConceptMap;
    expect(json.url).to.equal(HABILITATION_MATRIX_URL);
    expect(json.status).to.equal('draft');
    const provenance = json.extension?.find((e) => e.url === PROVENANCE_EXTENSION_URL)?.valueString ?? '';
    for (const text of [provenance, json.description ?? '']) {
      expect(text).to.contain('NOT the official');
      expect(text).to.contain('26 octobre 2023');
      expect(text).to.contain('HABILITATION_MATRIX_FILE');
    }
    expect(json.group?.map((g) => [g.source, g.target])).to.deep.equal([
      [LOINC_SYSTEM, PROFESSION_SYSTEM],
      [DOC_TYPE_COMPLEMENTARY_SYSTEM, PROFESSION_SYSTEM],
    ]);
  });

  it('when the document types are listed, then every typeCode of dmp-domain §2.2 is there with its system', () => {
    const types = matrix.documentTypes();
    expect(types.filter((t) => t.system === LOINC_SYSTEM).map((t) => t.code)).to.have.members(DOMAIN_LOINC_TYPES);
    expect(types.filter((t) => t.system === DOC_TYPE_COMPLEMENTARY_SYSTEM).map((t) => t.code)).to.have.members(DOMAIN_A05_TYPES);
  });

  it('when the professions are listed, then every TRE_G15 health profession has a row', () => {
    expect(matrix.professions()).to.have.members(Object.keys(HEALTH_PROFESSIONS));
  });

  it('when a doctor is checked, then they read every type except ATTEST-RESID', () => {
    expect(excludedFor('10')).to.deep.equal(['ATTEST-RESID']);
  });

  it('when a nurse is checked, then the published exclusions and ATTEST-RESID are excluded, and care reports are readable', () => {
    expect(excludedFor('60')).to.include.members(['75496-0', '68599-0', '83901-9', '68817-6', '89601-9', 'ATTEST-RESID']);
    expect(readable('60')).to.include.all.keys('11488-4', '96163-1', 'PRESC-INF', '60591-5');
  });

  it('when a dentist is checked, then the published exclusions are excluded and medical certificates readable', () => {
    expect(excludedFor('40')).to.include.members(['80788-3', '75496-0', '83981-1', '83901-9', '68599-0']);
    expect(readable('40')).to.include.all.keys('89601-9', '11488-4', '18748-4');
  });

  it('when a pharmacist is checked, then prescriptions, dispensing and biology are readable, and psychiatry, REMB and private papers are not', () => {
    expect(readable('21')).to.include.all.keys('57833-6', '60593-1', '56445-0', '11502-2', '11369-6', 'PRESC-BIO');
    expect(excludedFor('21')).to.include.members(['68599-0', '83901-9', 'REMB', 'ATTEST-RESID', 'PIECE-IDENTITE', '89601-9']);
  });

  it('when a podiatrist is checked, then the access is large but excludes psychiatry', () => {
    expect(readable('80').size).to.be.greaterThan(40);
    expect(readable('80')).to.include.all.keys('PRESC-PEDI', '11488-4', 'PROT_ALD');
    expect(excludedFor('80')).to.include.members(['68599-0', '83901-9', 'REMB']);
  });

  it('when a profession with no published row is checked, then it reads exactly the SAFE set', () => {
    for (const profession of ['26', '28', '31', '32', '50', '69', '70', '81', '86', '91', '92', '98']) {
      expect([...readable(profession)], profession).to.have.members(SAFE);
    }
  });

  it('when any profession is compared with doctors, then it reads nothing a doctor cannot', () => {
    for (const profession of matrix.professions()) {
      expect([...readable(profession)].filter((code) => !readable('10').has(code)), profession).to.deep.equal([]);
    }
  });

  it('when a profession reads the reimbursement history, then it also reads psychiatric syntheses (REMB would leak them)', () => {
    for (const profession of matrix.professions().filter((p) => readable(p).has('REMB'))) {
      expect(readable(profession).has('68599-0'), profession).to.equal(true);
    }
  });
});

describe('habilitation matrix: decisions', () => {
  it('when the profession is unknown or missing, then reading is denied as unknown-profession', () => {
    expect(matrix.mayRead('99', undefined, '11488-4')).to.deep.equal({ allow: false, reason: 'unknown-profession' });
    expect(matrix.mayRead(undefined, undefined, '11488-4')).to.deep.equal({ allow: false, reason: 'unknown-profession' });
    expect(matrix.readableTypes('99', undefined)).to.deep.equal([]);
  });

  it('when the document type is unknown, missing or from another system, then reading is denied as unknown-document-type', () => {
    expect(matrix.mayRead('10', undefined, 'XYZ')).to.deep.equal({ allow: false, reason: 'unknown-document-type' });
    expect(matrix.mayRead('10', undefined, undefined)).to.deep.equal({ allow: false, reason: 'unknown-document-type' });
    expect(matrix.mayRead('10', undefined, '11488-4', DOC_TYPE_COMPLEMENTARY_SYSTEM)).to.deep.equal({ allow: false, reason: 'unknown-document-type' });
  });

  it('when the type is known and allowed, then reading is allowed, with or without its system', () => {
    expect(matrix.mayRead('60', undefined, '11488-4')).to.deep.equal({ allow: true });
    expect(matrix.mayRead('60', 'SI01', '11488-4', LOINC_SYSTEM)).to.deep.equal({ allow: true });
  });

  it('when the type is known but not allowed, then reading is denied as matrix-forbids', () => {
    expect(matrix.mayRead('60', undefined, '68599-0')).to.deep.equal({ allow: false, reason: 'matrix-forbids' });
  });

  it('when a target depends on a speciality, then only that speciality reads the type', () => {
    const m = new HabilitationMatrix(conceptMap([{
      source: LOINC_SYSTEM,
      target: PROFESSION_SYSTEM,
      element: [
        { code: '11488-4', target: [{ code: '60', equivalence: 'equivalent' }] },
        { code: '68599-0', target: [{ code: '60', equivalence: 'equivalent', dependsOn: [{ property: 'speciality', system: SPECIALITY_SYSTEM, value: 'SI04' }] }] },
      ],
    }]));
    expect(m.mayRead('60', 'SI04', '68599-0')).to.deep.equal({ allow: true });
    expect(m.mayRead('60', 'SI01', '68599-0')).to.deep.equal({ allow: false, reason: 'matrix-forbids' });
    expect(m.mayRead('60', undefined, '68599-0')).to.deep.equal({ allow: false, reason: 'matrix-forbids' });
    expect(m.readableTypes('60', 'SI04')).to.deep.equal(['11488-4', '68599-0']);
  });

  it('when a profession appears only in disjoint targets, then it is known but reads nothing', () => {
    const m = new HabilitationMatrix(conceptMap([{
      source: LOINC_SYSTEM,
      target: PROFESSION_SYSTEM,
      element: [{ code: '11488-4', target: [{ code: '10', equivalence: 'equivalent' }, { code: '95', equivalence: 'disjoint' }] }],
    }]));
    expect(m.mayRead('95', undefined, '11488-4')).to.deep.equal({ allow: false, reason: 'matrix-forbids' });
  });
});

describe('habilitation matrix: loading another file (HABILITATION_MATRIX_FILE)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-matrix-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, content: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };
  const expectLoadError = (content: unknown, message: RegExp): void => {
    const file = write('bad.json', JSON.stringify(content));
    expect(() => loadMatrix(file)).to.throw(HabilitationMatrixError, message);
  };
  const raw = (groups: unknown[]): unknown => ({ resourceType: 'ConceptMap', status: 'draft', group: groups });
  const group = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    source: LOINC_SYSTEM,
    target: PROFESSION_SYSTEM,
    element: [{ code: '11488-4', target: [{ code: '10', equivalence: 'equivalent' }] }],
    ...overrides,
  });

  it('when a valid annex file is loaded, then its rules replace the shipped ones', () => {
    const file = write('annex.json', JSON.stringify(raw([group()])));
    const m = loadMatrix(file);
    expect(m.source).to.equal(file);
    expect(m.mayRead('10', undefined, '11488-4')).to.deep.equal({ allow: true });
    expect(m.mayRead('60', undefined, '11488-4')).to.deep.equal({ allow: false, reason: 'unknown-profession' });
  });

  it('when the file does not exist, then loading fails naming the file and the setting', () => {
    const missing = path.join(dir, 'missing.json');
    expect(() => loadMatrix(missing)).to.throw(HabilitationMatrixError, /missing\.json.*cannot be read.*HABILITATION_MATRIX_FILE/);
  });

  it('when the file is not JSON, then loading fails clearly', () => {
    expect(() => loadMatrix(write('text.json', 'not json'))).to.throw(HabilitationMatrixError, /is not JSON/);
  });

  it('when the file is not a ConceptMap, then loading fails clearly', () => {
    expectLoadError({ resourceType: 'Patient' }, /is not a FHIR ConceptMap \(resourceType "Patient"\)/);
  });

  it('when the ConceptMap has no group, then loading fails', () => {
    expectLoadError(raw([]), /has no group/);
  });

  it('when a group maps from another system or to another target, then loading fails naming it', () => {
    expectLoadError(raw([group({ source: 'http://snomed.info/sct' })]), /group\[0\]\.source "http:\/\/snomed\.info\/sct" is not a document type system/);
    expectLoadError(raw([group({ target: 'http://example.org/professions' })]), /group\[0\]\.target .* is not TRE_G15/);
  });

  it('when a document type appears twice, then loading fails', () => {
    expectLoadError(raw([group(), group()]), /document type 11488-4 appears twice/);
  });

  it('when a condition is not a TRE_R38 speciality, then loading fails rather than ignoring it', () => {
    const element = [{ code: '11488-4', target: [{ code: '10', equivalence: 'equivalent', dependsOn: [{ property: 'setting', system: 'http://example.org', value: 'x' }] }] }];
    expectLoadError(raw([group({ element })]), /dependsOn must name a TRE_R38 speciality/);
  });

  it('when a granting target names no profession, then loading fails', () => {
    expectLoadError(raw([group({ element: [{ code: '11488-4', target: [{ equivalence: 'equivalent' }] }] })]), /grants access but names no profession/);
  });

  it('when no target names a profession, then loading fails', () => {
    expectLoadError(raw([group({ element: [{ code: '11488-4' }] })]), /names no profession/);
  });
});

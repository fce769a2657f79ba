import { expect } from 'chai';
import { validateForWrite } from '../../src/fhir/validate.js';
import {
  ACCESS_REASON_SYSTEM,
  DENIAL_STATUS,
  denialLevel,
  REASON_LIST,
  REASONS,
  reasonCodeSystem,
  reasonCoding,
  reasonText,
} from '../../src/policy/reasons.js';

describe('policy reasons', () => {
  it('when the reason table is read, then every code is unique and kebab-case', () => {
    const codes = REASON_LIST.map((r) => r.code);
    expect(new Set(codes).size, 'duplicate reason code').to.equal(codes.length);
    for (const code of codes) expect(code).to.match(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it('when a reason is a denial, then it has a level; an allow reason has none', () => {
    for (const r of REASON_LIST) {
      const level = (r as { level?: string }).level;
      if (r.outcome === 'deny') expect(level, r.code).to.be.oneOf(['patient', 'document']);
      else expect(level, r.code).to.equal(undefined);
    }
  });

  it('when the issue\'s reasons are looked up, then each is in the table with the expected outcome and level', () => {
    const allow = ['authorised', 'author', 'medecin-traitant', 'extended-rights', 'bris-de-glace', 'centre-15', 'patient-self', 'legal-representative', 'system-client', 'feeding'];
    const patientLevel = ['not-authorised', 'blocked', 'dmp-closed', 'emergency-opposed', 'not-regulator', 'unknown-profession', 'not-author', 'patient-document-types-only', 'not-a-health-professional', 'system-not-allowed', 'default-deny'];
    const documentLevel = ['matrix-forbids', 'unknown-document-type', 'masked', 'invisible-to-patient', 'invisible-to-representatives'];
    const table = REASONS as Record<string, { outcome: string; level?: string }>;
    for (const code of allow) expect(table[code]?.outcome, code).to.equal('allow');
    for (const code of patientLevel) expect(table[code], code).to.include({ outcome: 'deny', level: 'patient' });
    for (const code of documentLevel) expect(table[code], code).to.include({ outcome: 'deny', level: 'document' });
  });

  it('when a level is mapped to HTTP, then patient is 403 and document 404', () => {
    expect(DENIAL_STATUS).to.deep.equal({ patient: 403, document: 404 });
    expect(denialLevel('blocked')).to.equal('patient');
    expect(denialLevel('masked')).to.equal('document');
  });

  it('when a reason is shown, then it has a French sentence with the English one in parentheses', () => {
    for (const r of REASON_LIST) {
      expect(r.text.length, r.code).to.be.greaterThan(20);
      expect(r.english.length, r.code).to.be.greaterThan(20);
      expect(reasonText(r.code)).to.equal(`${r.text} (${r.english})`);
    }
    expect(reasonText('blocked')).to.match(/^Le patient vous a bloqué/);
  });

  it('when a reason becomes a Coding, then it carries the dmp-access-reason system, code and display', () => {
    expect(ACCESS_REASON_SYSTEM).to.equal('https://dmp-fhir-server.org/fhir/CodeSystem/dmp-access-reason');
    expect(reasonCoding('masked')).to.deep.equal({ system: ACCESS_REASON_SYSTEM, code: 'masked', display: REASONS.masked.display });
  });

  it('when the CodeSystem is built, then it is valid FHIR R4 and lists every code once', () => {
    const cs = reasonCodeSystem();
    expect(() => validateForWrite(cs)).not.to.throw();
    expect(cs.url).to.equal(ACCESS_REASON_SYSTEM);
    expect(cs.concept?.map((c) => c.code)).to.deep.equal(REASON_LIST.map((r) => r.code));
  });
});

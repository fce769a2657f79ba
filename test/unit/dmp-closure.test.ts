import { expect } from 'chai';
import { closureOf, closureReason, isCreationOpposition, retentionEnd, withClosure, withoutClosure } from '../../src/dmp/closure.js';
import { DMP_CLOSURE_EXTENSION_URL } from '../../src/dmp/identifiers.js';
import { testPatient } from '../helpers/fhir.js';

describe('DMP closure on the Patient (dmp-fermeture)', () => {
  it('when a DMP is closed, then active is false and the closure extension carries date, reason and text; reopening removes it and keeps the other extensions', () => {
    const open = testPatient();
    const closed = withClosure(open, { date: '2026-01-02T03:04:05Z', reason: closureReason('deces'), text: 'décès déclaré' });
    expect(closed.active).to.equal(false);
    expect(closureOf(closed)).to.deep.equal({ date: '2026-01-02T03:04:05Z', reason: closureReason('deces'), text: 'décès déclaré' });
    const reopened = withoutClosure(closed);
    expect(reopened.active).to.equal(true);
    expect(reopened.extension?.some((e) => e.url === DMP_CLOSURE_EXTENSION_URL)).to.equal(false);
    expect(reopened.extension).to.deep.equal(open.extension);
  });

  it('when a DMP is closed twice, then one closure extension remains (the latest)', () => {
    const twice = withClosure(withClosure(testPatient(), { date: '2020-01-01T00:00:00Z', reason: closureReason('patient-demande') }), { date: '2021-01-01T00:00:00Z', reason: closureReason('deces') });
    expect(twice.extension?.filter((e) => e.url === DMP_CLOSURE_EXTENSION_URL)).to.have.length(1);
    expect(closureOf(twice)?.date).to.equal('2021-01-01T00:00:00Z');
  });

  it('when the reason is opposition-creation, then the record is an opposition, not a closed DMP', () => {
    expect(isCreationOpposition(withClosure(testPatient(), { date: '2026-01-01T00:00:00Z', reason: closureReason('opposition-creation') }))).to.equal(true);
    expect(isCreationOpposition(withClosure(testPatient(), { date: '2026-01-01T00:00:00Z', reason: closureReason('patient-demande') }))).to.equal(false);
  });

  it('when the retention end is computed, then it is the same instant N calendar years later', () => {
    expect(retentionEnd('2016-02-29T12:00:00Z', 10).toISOString()).to.equal('2026-03-01T12:00:00.000Z');
    expect(retentionEnd('2020-06-15T08:30:00Z', 10).toISOString()).to.equal('2030-06-15T08:30:00.000Z');
  });
});

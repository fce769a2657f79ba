import { expect } from 'chai';
import { loadBaseDefinitions } from '../../src/fhir/definitions.js';
import { FhirError } from '../../src/fhir/outcomes.js';
import { decodeCursor, encodeCursor, parseSearch } from '../../src/fhir/search/request.js';

const opts = { lenient: false, defaultCount: 20, maxCount: 100 };

function fails(fn: () => unknown, id: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(FhirError);
    expect((err as FhirError).outcome.issue[0].details?.coding?.[0].code).to.equal(id);
    return;
  }
  expect.fail('expected a FhirError');
}

describe('search request parsing', () => {
  before(() => loadBaseDefinitions());

  it('when parameters are supported, then filters, count and applied params come out', () => {
    const s = parseSearch('Patient', { family: ['Dupont'], _count: ['5'], _format: ['json'] }, opts);
    expect(s.query.filters).to.deep.equal([{ code: 'family', operator: 'eq', value: 'Dupont' }]);
    expect(s.query.count).to.equal(5);
    expect(s.applied).to.deep.equal([['family', 'Dupont'], ['_count', '5']]);
  });

  it('when a parameter is unknown, then strict parsing fails with UNKNOWN_SEARCH_PARAM', () => {
    fails(() => parseSearch('Patient', { foo: ['1'] }, opts), 'DMPF-0040');
  });

  it('when a parameter is unknown and handling is lenient, then it is ignored and reported', () => {
    const s = parseSearch('Patient', { foo: ['1'], gender: ['male'] }, { ...opts, lenient: true });
    expect(s.ignored).to.deep.equal(['foo']);
    expect(s.applied).to.deep.equal([['gender', 'male']]);
  });

  it('when _count is above the cap, then it is lowered; when not a number, then 400', () => {
    expect(parseSearch('Patient', { _count: ['5000'] }, opts).query.count).to.equal(100);
    fails(() => parseSearch('Patient', { _count: ['ten'] }, opts), 'DMPF-0041');
  });

  it('when _summary=count, then no rows are asked and the total is', () => {
    const s = parseSearch('Patient', { _summary: ['count'] }, opts);
    expect(s.summaryCount).to.equal(true);
    expect(s.query.count).to.equal(0);
    expect(s.query.total).to.equal(true);
  });

  it('when a chain is on a reference parameter, then it is accepted; on a token, then rejected', () => {
    expect(parseSearch('DocumentReference', { 'patient.identifier': ['a|b'] }, opts).query.filters).to.have.length(1);
    fails(() => parseSearch('DocumentReference', { 'status.x': ['a'] }, opts), 'DMPF-0040');
  });

  it('when _include names a non-reference parameter or iterates, then 400', () => {
    fails(() => parseSearch('DocumentReference', { _include: ['DocumentReference:status'] }, opts), 'DMPF-0041');
    fails(() => parseSearch('DocumentReference', { '_include:iterate': ['DocumentReference:subject'] }, opts), 'DMPF-0042');
  });

  it('when a cursor round-trips, then it is unchanged; when tampered, then 400', () => {
    const cursor = { dir: 'after' as const, keys: ['2024-01-01T00:00:00.000Z', 'abc'] };
    expect(decodeCursor(encodeCursor(cursor))).to.deep.equal(cursor);
    fails(() => decodeCursor('not-a-cursor'), 'DMPF-0043');
  });
});

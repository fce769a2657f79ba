import { expect } from 'chai';
import { parseDateRange } from '../../src/fhir/search/date-range.js';
import { foldString } from '../../src/fhir/search/fold.js';
import { parseReference } from '../../src/fhir/references.js';
import { escapeLike, and, or, SqlParams } from '../../src/repo/sql.js';
import { splitOr } from '../../src/repo/search-sql/values.js';

describe('date ranges', () => {
  const cases: [string, string, string][] = [
    ['2020', '2020-01-01T00:00:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-02', '2020-02-01T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-02-29', '2020-02-29T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-12-31T23:59', '2020-12-31T23:59:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-06-01T10:00:00+02:00', '2020-06-01T08:00:00.000Z', '2020-06-01T08:00:01.000Z'],
    ['2020-06-01T10:00:00.123Z', '2020-06-01T10:00:00.123Z', '2020-06-01T10:00:00.124Z'],
  ];
  for (const [value, lo, hi] of cases) {
    it(`when "${value}" is read, then it covers [${lo}, ${hi})`, () => {
      const range = parseDateRange(value);
      expect(range?.lo.toISOString()).to.equal(lo);
      expect(range?.hi.toISOString()).to.equal(hi);
    });
  }
  for (const bad of ['2020-13', '2019-02-29', '20', 'notadate', '2020-01-01T25:00', '2020-1-1']) {
    it(`when "${bad}" is read, then it is rejected`, () => {
      expect(parseDateRange(bad)).to.equal(undefined);
    });
  }
});

describe('string folding', () => {
  it('when accents, case and spaces differ, then the folded forms are equal', () => {
    expect(foldString('  Bénédicte   LÉA ')).to.equal(foldString('benedicte lea'));
    expect(foldString('Çà')).to.equal('ca');
  });
});

describe('references', () => {
  it('when a relative, versioned or absolute reference is read, then type and id come out', () => {
    expect(parseReference('Patient/123')).to.deep.equal({ type: 'Patient', id: '123' });
    expect(parseReference('Patient/123/_history/2')).to.deep.equal({ type: 'Patient', id: '123' });
    expect(parseReference('https://x.org/fhir/Practitioner/a-b.c')).to.deep.equal({ type: 'Practitioner', id: 'a-b.c' });
  });
  it('when a reference is contained, a urn or garbage, then nothing comes out', () => {
    for (const ref of ['#p1', 'urn:uuid:0c2f', 'patient/1', 'Patient/', 'Patient/a b']) {
      expect(parseReference(ref), ref).to.equal(undefined);
    }
  });
});

describe('SQL helpers', () => {
  it('when values are added, then placeholders are numbered and values kept apart from the SQL', () => {
    const q = new SqlParams();
    expect(q.add("x' OR 1=1 --")).to.equal('$1');
    expect(q.list([1, 2])).to.equal('$2, $3');
    expect(q.values).to.deep.equal(["x' OR 1=1 --", 1, 2]);
  });
  it('when LIKE wildcards are in a value, then they are escaped', () => {
    expect(escapeLike('50%_a\\b')).to.equal('50\\%\\_a\\\\b');
  });
  it('when predicates are combined, then TRUE/FALSE identities hold', () => {
    expect(and([])).to.equal('TRUE');
    expect(and(['TRUE', 'a'])).to.equal('(a)');
    expect(or([])).to.equal('FALSE');
    expect(or(['a', 'b'])).to.equal('(a) OR (b)');
    expect(or(['a', 'TRUE'])).to.equal('TRUE');
  });
  it('when a search value has escaped commas, then only unescaped commas split it', () => {
    expect(splitOr('a,b\\,c,d')).to.deep.equal(['a', 'b,c', 'd']);
  });
});

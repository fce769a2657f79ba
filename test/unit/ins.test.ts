import { expect } from 'chai';
import { computeInsKey, isInsSystem, makeTestIns, validateIns } from '../../src/dmp/ins.js';
import {
  INS_NIA_SYSTEM,
  INS_NIR_DEMO_SYSTEM,
  INS_NIR_SYSTEM,
  INS_NIR_TEST_SYSTEM,
  LOINC_SYSTEM,
} from '../../src/dmp/identifiers.js';

describe('INS matricule (dmp/ins)', () => {
  describe('computeInsKey', () => {
    it('when N = 10^12, then key = 97 - 50 = 47 (10^2 ≡ 3 mod 97, so 10^12 ≡ 3^6 = 729 ≡ 50)', () => {
      expect(computeInsKey('1000000000000')).to.equal('47');
    });

    it('when the body is a published example, then the published key is found', () => {
      // 2 55 08 14 168 025 | 38: textbook NIR example; 2 95 10 99 126 111 | 93: born abroad (99)
      expect(computeInsKey('2550814168025')).to.equal('38');
      expect(computeInsKey('2951099126111')).to.equal('93');
    });

    it('when the key is below 10, then it is left-padded to 2 digits', () => {
      expect(computeInsKey('0000000000090')).to.equal('07'); // 97 - 90
    });

    it('when N mod 97 = 0, then the key is 97', () => {
      expect(computeInsKey('0000000000097')).to.equal('97');
    });

    it('when the department is 2A, then it is computed as 19', () => {
      expect(computeInsKey('156112A004012')).to.equal(computeInsKey('1561119004012'));
      expect(computeInsKey('156112A004012')).to.equal('35');
    });

    it('when the department is 2B, then it is computed as 18', () => {
      expect(computeInsKey('156112B033012')).to.equal(computeInsKey('1561118033012'));
      expect(computeInsKey('253072B073004')).to.equal('70');
    });

    it('when the body is malformed, then it throws', () => {
      expect(() => computeInsKey('123')).to.throw(RangeError);
      expect(() => computeInsKey('1561120A04012')).to.throw(RangeError);
      expect(() => computeInsKey('15611 2A00401')).to.throw(RangeError);
    });
  });

  describe('validateIns', () => {
    const valid = [
      '255081416802538', // textbook example
      '295109912611193', // born abroad
      '253072B07300470', // Haute-Corse
      '156112A00401235', // Corse-du-Sud
      '278037511400585', // Paris 14e
      '190019710501752', // Basse-Terre (overseas 3+2 place)
    ];
    for (const ins of valid) {
      it(`when the INS is ${ins}, then it is valid`, () => {
        expect(validateIns(ins)).to.deep.equal({ ok: true });
      });
    }

    it('when the value is not 15 characters, then reason is length', () => {
      for (const value of ['', '25508141680253', '2550814168025380']) {
        const result = validateIns(value);
        expect(result.ok).to.equal(false);
        if (!result.ok) expect(result.reason).to.equal('length');
      }
    });

    it('when a character is not allowed, then reason is format', () => {
      for (const value of ['2550814168025A8', '2A5081416802538', '25508 416802538', '253072b07300470', '253072C07300470']) {
        const result = validateIns(value);
        expect(result.ok, value).to.equal(false);
        if (!result.ok) expect(result.reason, value).to.equal('format');
      }
    });

    it('when the key does not match, then reason is key and the message gives the expected key', () => {
      const result = validateIns('255081416802539');
      expect(result.ok).to.equal(false);
      if (!result.ok) {
        expect(result.reason).to.equal('key');
        expect(result.message).to.contain('38');
      }
    });

    it('when 2A and 2B are swapped, then the key no longer matches', () => {
      const result = validateIns('253072A07300470');
      expect(result.ok).to.equal(false);
      if (!result.ok) expect(result.reason).to.equal('key');
    });

    it('when the month is outside 01-12 (incomplete civil record), then it is still valid', () => {
      const body = '1804299126111';
      expect(validateIns(body + computeInsKey(body))).to.deep.equal({ ok: true });
    });
  });

  describe('isInsSystem', () => {
    it('when the system is one of the four INS systems, then true', () => {
      for (const system of [INS_NIR_SYSTEM, INS_NIA_SYSTEM, INS_NIR_TEST_SYSTEM, INS_NIR_DEMO_SYSTEM]) {
        expect(isInsSystem(system), system).to.equal(true);
      }
    });

    it('when the system is anything else, then false', () => {
      expect(isInsSystem(LOINC_SYSTEM)).to.equal(false);
      expect(isInsSystem('urn:oid:1.2.250.1.213.1.4.2')).to.equal(false); // old INS-C
      expect(isInsSystem('')).to.equal(false);
    });
  });

  describe('makeTestIns', () => {
    it('when given the parts, then it concatenates them and appends the key', () => {
      expect(makeTestIns(2, '78', '03', '75114', '005')).to.equal('278037511400585');
      expect(makeTestIns(1, '56', '11', '2A004', '012')).to.equal('156112A00401235');
    });

    it('when the result is validated, then it is valid', () => {
      expect(validateIns(makeTestIns(1, '90', '01', '97105', '017'))).to.deep.equal({ ok: true });
      expect(validateIns(makeTestIns(2, '53', '07', '2B073', '004'))).to.deep.equal({ ok: true });
    });

    it('when a part is malformed, then it throws', () => {
      expect(() => makeTestIns(1, '9', '01', '97105', '017')).to.throw(RangeError, /yy/);
      expect(() => makeTestIns(1, '90', '1', '97105', '017')).to.throw(RangeError, /mm/);
      expect(() => makeTestIns(1, '90', '01', '2C105', '017')).to.throw(RangeError, /place5/);
      expect(() => makeTestIns(1, '90', '01', '97105', '17')).to.throw(RangeError, /order3/);
      expect(() => makeTestIns(3 as 1, '90', '01', '97105', '017')).to.throw(RangeError, /sex/);
    });
  });
});

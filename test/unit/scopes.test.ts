import { expect } from 'chai';
import { grantingScopes, intersectScopes, parseClinicalScope, parseScopes } from '../../src/auth/scopes.js';

describe('SMART scopes', () => {
  it('when a v2 scope is read, then context, type and cruds letters come out', () => {
    const s = parseClinicalScope('patient/DocumentReference.rs');
    expect(s?.context).to.equal('patient');
    expect(s?.resourceType).to.equal('DocumentReference');
    expect([...(s?.permissions ?? [])]).to.deep.equal(['r', 's']);
    expect(s?.v1).to.equal(false);
  });

  it('when v1 read/write/* are read, then they mean rs / cud / cruds', () => {
    expect([...parseClinicalScope('user/Patient.read')!.permissions]).to.deep.equal(['r', 's']);
    expect([...parseClinicalScope('user/Patient.write')!.permissions]).to.deep.equal(['c', 'u', 'd']);
    expect(parseClinicalScope('system/*.*')!.permissions.size).to.equal(5);
  });

  it('when letters are out of order, repeated or unknown, then the scope is refused', () => {
    for (const bad of ['patient/Patient.dus', 'patient/Patient.rr', 'patient/Patient.x', 'patient/patient.r', 'nurse/Patient.r', 'patient/Patient.rs?subject.name=x']) {
      expect(parseClinicalScope(bad), bad).to.equal(undefined);
    }
  });

  it('when a granular scope is read, then its constraints come out', () => {
    expect(parseClinicalScope('patient/DocumentReference.rs?category=http://x|10')?.params).to.deep.equal([['category', 'http://x|10']]);
  });

  it('when a scope string mixes kinds, then clinical, special and unknown are told apart', () => {
    const set = parseScopes('openid fhirUser launch/patient patient/*.rs offline_access foo');
    expect(set.clinical.map((c) => c.text)).to.deep.equal(['patient/*.rs']);
    expect([...set.special].sort()).to.deep.equal(['fhirUser', 'launch/patient', 'offline_access', 'openid']);
    expect(set.unknown).to.deep.equal(['foo']);
  });

  it('when requested scopes exceed the ceiling, then only the covered part is granted', () => {
    expect(intersectScopes('patient/*.cruds openid', 'patient/*.rs openid')).to.equal('openid patient/*.rs');
    expect(intersectScopes('user/Consent.cruds', 'user/Consent.rs', 'user/*.cud')).to.equal('');
    expect(intersectScopes('user/Patient.read', 'user/*.cruds')).to.equal('user/Patient.read');
    expect(intersectScopes('user/Patient.read', 'user/Patient.r')).to.equal('user/Patient.r');
  });

  it('when contexts differ, then nothing crosses (patient/ never grants user/ or system/)', () => {
    expect(intersectScopes('system/Patient.rs user/Patient.rs', 'patient/*.cruds')).to.equal('');
  });

  it('when a ceiling is granular, then only the same constraint passes; a plain ceiling passes any constraint', () => {
    expect(intersectScopes('patient/DocumentReference.rs', 'patient/DocumentReference.rs?category=a')).to.equal('');
    expect(intersectScopes('patient/DocumentReference.rs?category=a', 'patient/DocumentReference.rs?category=a')).to.equal('patient/DocumentReference.rs?category=a');
    expect(intersectScopes('patient/DocumentReference.rs?category=a', 'patient/*.r')).to.equal('patient/DocumentReference.r?category=a');
  });

  it('when scopes are checked for an interaction, then several matching scopes are all returned (ORed)', () => {
    const { clinical } = parseScopes('patient/DocumentReference.r?category=a patient/DocumentReference.r?category=b patient/Patient.rs');
    expect(grantingScopes(clinical, { resourceType: 'DocumentReference', permission: 'r' })).to.have.length(2);
    expect(grantingScopes(clinical, { resourceType: 'DocumentReference', permission: 's' })).to.have.length(0);
  });
});

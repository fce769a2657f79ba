import { expect } from 'chai';
import { IdentityError, parseInsClaim, readProfessionalClaims, toProfessionalIdentity } from '../../src/auth/identity.js';

/** Claims as Pro Santé Connect gives them (userinfo), trimmed to what matters here. */
function pscClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'f:550e8400',
    SubjectNameID: '899700100011',
    given_name: 'Hélène',
    family_name: 'DURAND',
    SubjectRefPro: {
      codeCivilite: 'MME',
      exercices: [
        {
          codeProfession: '10',
          codeCategorieProfessionnelle: 'C',
          codeSavoirFaire: 'SM54',
          activities: [
            { codeModeExercice: 'L', raisonSocialeSite: 'Cabinet', identifiantTechniqueDeLaStructure: 'R10000000001', numeroFinessSite: '750999997' },
            { identifiantTechniqueDeLaStructure: 'R20000000002' },
          ],
        },
        { codeProfession: '21', activities: [] },
      ],
    },
    Acces_Regulation_Medicale: 'FAUX',
    ...overrides,
  };
}

function identityError(fn: () => unknown): IdentityError {
  try {
    fn();
  } catch (err) {
    if (err instanceof IdentityError) {
      return err;
    }
    throw err;
  }
  throw new Error('expected an IdentityError');
}

describe('Identity claims (Pro Santé Connect and INS)', () => {
  it('when PSC claims are read, then national id, names, first exercice profession and speciality, first activity structure come out', () => {
    expect(readProfessionalClaims(pscClaims())).to.deep.equal({
      nationalId: '899700100011',
      givenName: 'Hélène',
      familyName: 'DURAND',
      profession: '10',
      speciality: 'SM54',
      structure: 'R10000000001',
      regulator: false,
    });
  });

  it('when the claims have no SubjectNameID, then they are not a professional', () => {
    expect(readProfessionalClaims({ sub: 'x', ins: 'urn:oid:1.2.250.1.213.1.4.10|123456789012345' })).to.equal(undefined);
  });

  it('when Acces_Regulation_Medicale is VRAI or true, then the professional is a regulator', () => {
    expect(readProfessionalClaims(pscClaims({ Acces_Regulation_Medicale: 'VRAI' }))?.regulator).to.equal(true);
    expect(readProfessionalClaims(pscClaims({ Acces_Regulation_Medicale: true }))?.regulator).to.equal(true);
  });

  it('when Acces_Regulation_Medicale is FAUX, false or absent, then the professional is no regulator', () => {
    expect(readProfessionalClaims(pscClaims({ Acces_Regulation_Medicale: false }))?.regulator).to.equal(false);
    expect(readProfessionalClaims(pscClaims({ Acces_Regulation_Medicale: undefined }))?.regulator).to.equal(false);
    expect(readProfessionalClaims(pscClaims({ Acces_Regulation_Medicale: 'OUI' }))?.regulator).to.equal(false);
  });

  it('when the first activity has no technical structure id, then its FINESS is the structure', () => {
    const claims = pscClaims({ SubjectRefPro: { exercices: [{ codeProfession: '60', activities: [{ numeroFinessSite: '920999901' }] }] } });
    const read = readProfessionalClaims(claims);
    expect(read?.structure).to.equal('920999901');
    expect(read?.profession).to.equal('60');
    expect(read).to.not.have.property('speciality');
  });

  it('when there is no exercice, then profession, speciality and structure are absent', () => {
    const read = readProfessionalClaims(pscClaims({ SubjectRefPro: { exercices: [] } }));
    expect(read).to.deep.equal({ nationalId: '899700100011', givenName: 'Hélène', familyName: 'DURAND', regulator: false });
  });

  it('when SubjectRefPro comes as a JSON string, then it is read all the same', () => {
    const read = readProfessionalClaims(pscClaims({ SubjectRefPro: JSON.stringify(pscClaims().SubjectRefPro) }));
    expect(read?.profession).to.equal('10');
  });

  it('when the top-level names are missing, then the exercice names are used', () => {
    const claims = pscClaims({
      given_name: undefined,
      family_name: undefined,
      SubjectRefPro: { exercices: [{ codeProfession: '10', prenomDexercice: 'Marc', nomDexercice: 'LEROY' }] },
    });
    expect(readProfessionalClaims(claims)).to.include({ givenName: 'Marc', familyName: 'LEROY' });
  });

  it('when SubjectNameID is not an identifier, then the claims are invalid', () => {
    expect(identityError(() => readProfessionalClaims(pscClaims({ SubjectNameID: '8997 0010' }))).code).to.equal('invalid-claims');
    expect(identityError(() => readProfessionalClaims(pscClaims({ SubjectNameID: 899700100011 }))).code).to.equal('invalid-claims');
  });

  it('when codeProfession is not a code, then the claims are invalid', () => {
    const claims = pscClaims({ SubjectRefPro: { exercices: [{ codeProfession: '10|x,y' }] } });
    expect(identityError(() => readProfessionalClaims(claims)).code).to.equal('invalid-claims');
  });

  it('when a ProfessionalIdentity is made, then it carries the practitioner id and the claims read', () => {
    const read = readProfessionalClaims(pscClaims({ Acces_Regulation_Medicale: 'VRAI' }));
    expect(toProfessionalIdentity(read!, 'prac-1')).to.deep.equal({
      nationalId: '899700100011',
      practitionerId: 'prac-1',
      profession: '10',
      speciality: 'SM54',
      structure: 'R10000000001',
      regulator: true,
    });
  });

  it('when an ins claim names an INS system, then system and value come out', () => {
    expect(parseInsClaim('urn:oid:1.2.250.1.213.1.4.10|278037511400512')).to.deep.equal({ system: 'urn:oid:1.2.250.1.213.1.4.10', value: '278037511400512' });
    expect(parseInsClaim('urn:oid:1.2.250.1.213.1.4.8|1810220004012A')?.value).to.equal('1810220004012A');
  });

  it('when there is no ins claim, then there is no INS', () => {
    expect(parseInsClaim(undefined)).to.equal(undefined);
    expect(parseInsClaim('')).to.equal(undefined);
  });

  it('when the ins claim has no system, a non-INS system or a bad value, then it is invalid', () => {
    for (const bad of ['278037511400512', 'urn:oid:1.2.250.1.71.4.2.1|899700100011', 'urn:oid:1.2.250.1.213.1.4.10|12 34', 'urn:oid:1.2.250.1.213.1.4.10|', 42]) {
      expect(identityError(() => parseInsClaim(bad)).code, String(bad)).to.equal('invalid-claims');
    }
  });
});

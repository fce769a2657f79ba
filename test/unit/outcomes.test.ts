import { expect } from 'chai';
import { CATALOGUE, ERROR_CODE_SYSTEM, FhirError, outcomeOf } from '../../src/fhir/outcomes.js';

describe('outcomes catalogue', () => {
  it('when the catalogue is read, then every stable id is unique and well-formed', () => {
    const ids = Object.values(CATALOGUE).map((e) => e.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const id of ids) {
      expect(id).to.match(/^DMPF-\d{4}$/);
    }
  });

  it('when a FhirError is built, then it carries the status and the coded issue', () => {
    const err = new FhirError('PRECONDITION_FAILED', 'stale', ['If-Match']);
    expect(err.status).to.equal(412);
    const issue = err.outcome.issue[0];
    expect(issue.code).to.equal('conflict');
    expect(issue.expression).to.deep.equal(['If-Match']);
    expect(issue.details?.coding?.[0]).to.deep.equal({ system: ERROR_CODE_SYSTEM, code: CATALOGUE.PRECONDITION_FAILED.id });
  });

  it('when several validation issues are wrapped, then each keeps its expression and gets the catalogue code', () => {
    const err = FhirError.withIssues('PROFILE_VIOLATION', [
      { severity: 'error', code: 'required', details: { text: 'a' }, expression: ['Patient.gender'] },
      { severity: 'error', code: 'required', details: { text: 'b' }, expression: ['Patient.birthDate'] },
    ]);
    expect(err.status).to.equal(422);
    expect(err.outcome.issue.map((i) => i.expression?.[0])).to.deep.equal(['Patient.gender', 'Patient.birthDate']);
    expect(err.outcome.issue.every((i) => i.details?.coding?.[0].code === CATALOGUE.PROFILE_VIOLATION.id)).to.equal(true);
  });

  it('when an outcome is built without expression, then the issue has none', () => {
    expect(outcomeOf('NOT_FOUND', 'x').issue[0].expression).to.equal(undefined);
  });
});

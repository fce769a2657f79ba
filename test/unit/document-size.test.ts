import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Bundle } from '@medplum/fhirtypes';
import { assertDocumentSizes, base64DecodedLength } from '../../src/fhir/document-size.js';
import { CATALOGUE, FhirError } from '../../src/fhir/outcomes.js';

describe('document sizes (BINARY_MAX_BYTES), without decoding', () => {
  for (const size of [0, 1, 2, 3, 4, 1000, 65536, 65537]) {
    it(`when ${size} bytes are base64-encoded, then the decoded length read from the text is ${size}`, () => {
      expect(base64DecodedLength(randomBytes(size).toString('base64'))).to.equal(size);
    });
  }

  it('when the base64 text is cut in lines (XML, MIME style), then the line breaks and spaces do not count', () => {
    const text = randomBytes(1000).toString('base64').replace(/(.{76})/g, '$1\r\n ');
    expect(base64DecodedLength(text)).to.equal(1000);
  });

  it('when a Bundle entry holds a Binary over the limit, then 413 BINARY_TOO_LARGE names that entry; a Bundle under the limit passes', () => {
    const bundle = (size: number): Bundle => ({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { resourceType: 'Patient' } }, { resource: { resourceType: 'Binary', contentType: 'text/plain', data: randomBytes(size).toString('base64') } }],
    });
    expect(() => assertDocumentSizes(bundle(100), 100)).to.not.throw();
    let error: unknown;
    try {
      assertDocumentSizes(bundle(101), 100);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(FhirError);
    const outcome = (error as FhirError).outcome;
    expect((error as FhirError).status).to.equal(413);
    expect(outcome.issue[0].details?.coding?.[0].code).to.equal(CATALOGUE.BINARY_TOO_LARGE.id);
    expect(outcome.issue[0].expression).to.deep.equal(['Bundle.entry[1].resource.data']);
  });
});

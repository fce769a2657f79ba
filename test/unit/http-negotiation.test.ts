import { expect } from 'chai';
import { FhirError } from '../../src/fhir/outcomes.js';
import { parsePrefer } from '../../src/fhir/prefer.js';
import { isJsonContentType, isXmlContentType, negotiate } from '../../src/http/negotiation.js';

describe('content negotiation', () => {
  it('when FHIR JSON or JSON is accepted or asked by _format, then FHIR JSON is chosen', () => {
    expect(negotiate(undefined, 'application/fhir+json')).to.equal('fhir-json');
    expect(negotiate(undefined, 'text/html, application/json;q=0.9')).to.equal('fhir-json');
    expect(negotiate('json', 'application/pdf')).to.equal('fhir-json');
  });
  it('when nothing or a wildcard is accepted, then the route may choose', () => {
    expect(negotiate(undefined, undefined)).to.equal('any');
    expect(negotiate(undefined, '*/*')).to.equal('any');
    expect(negotiate(undefined, 'application/pdf')).to.equal('any');
  });
  it('when XML is asked by _format or a FHIR XML Accept, then FHIR XML is chosen; a generic XML Accept is told apart', () => {
    expect(negotiate('xml', 'application/fhir+json')).to.equal('fhir-xml');
    expect(negotiate('application/fhir xml', undefined)).to.equal('fhir-xml');
    expect(negotiate(undefined, 'application/fhir+xml')).to.equal('fhir-xml');
    expect(negotiate(undefined, 'text/xml')).to.equal('xml');
    expect(negotiate(undefined, 'application/xml, application/fhir+json')).to.equal('xml');
  });
  it('when Accept carries q-values, then the most wanted served type wins, q=0 never', () => {
    expect(negotiate(undefined, 'application/fhir+xml;q=0.5, application/fhir+json')).to.equal('fhir-json');
    expect(negotiate(undefined, 'application/fhir+json;q=0.1, application/fhir+xml')).to.equal('fhir-xml');
    expect(negotiate(undefined, 'application/fhir+xml;q=0, */*')).to.equal('any');
    expect(negotiate(undefined, 'text/turtle, application/pdf;q=0.2')).to.equal('any');
  });
  it('when only Turtle or HTML is accepted or asked, then 406', () => {
    for (const [format, accept] of [['ttl', undefined], [undefined, 'application/fhir+turtle'], [undefined, 'text/html, text/turtle;q=0.5'], [undefined, 'application/fhir+json;q=0, text/turtle']] as const) {
      expect(() => negotiate(format, accept)).to.throw(FhirError).with.property('status', 406);
    }
  });
  it('when a Content-Type carries parameters, then it is still recognised', () => {
    expect(isJsonContentType('application/fhir+json; charset=utf-8')).to.equal(true);
    expect(isJsonContentType('text/plain')).to.equal(false);
    expect(isXmlContentType('application/fhir+xml; charset=utf-8')).to.equal(true);
    expect(isXmlContentType('text/xml')).to.equal(true);
    expect(isXmlContentType('text/turtle')).to.equal(false);
  });
});

describe('Prefer header', () => {
  it('when return and handling are given, then both are read; unknown values are ignored', () => {
    expect(parsePrefer('return=minimal, handling=lenient')).to.deep.equal({ return: 'minimal', handling: 'lenient' });
    expect(parsePrefer('return="OperationOutcome"')).to.deep.equal({ return: 'OperationOutcome' });
    expect(parsePrefer('return=everything; respond-async')).to.deep.equal({});
  });
});

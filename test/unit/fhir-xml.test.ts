import { expect } from 'chai';
import type { Observation, Parameters, Patient, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../src/fhir/outcomes.js';
import { isFhirResourceXml, resourceToXml, xmlToResource } from '../../src/fhir/xml.js';

const NS = 'xmlns="http://hl7.org/fhir"';

/** The FhirError an XML text is refused with. */
function refusal(xml: string): FhirError {
  try {
    xmlToResource(xml);
  } catch (err) {
    expect(err).to.be.instanceOf(FhirError);
    return err as FhirError;
  }
  throw new Error(`accepted: ${xml}`);
}

const rich = {
  resourceType: 'Patient',
  id: 'p1',
  meta: { versionId: '2', lastUpdated: '2024-01-01T00:00:00.000Z', profile: ['https://example.org/p'] },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Hé &amp; <b>bold</b> &lt;x&gt;</p></div>' },
  contained: [{ resourceType: 'Organization', id: 'o1', name: 'Org' }],
  extension: [
    { url: 'http://example.org/s', valueString: 'a"b<c>&d\te\nf &amp;' },
    { url: 'http://example.org/u', valueUuid: 'urn:uuid:0d3a7f1e-1111-2222-3333-444455556666' },
    { url: 'http://example.org/d', valueDecimal: 1.25 },
  ],
  active: true,
  name: [{ family: 'Dupont', given: ['Jeanne', 'Marie'], _given: [null, { extension: [{ url: 'http://example.org/g', valueCode: 'x' }] }] }],
  gender: 'female',
  birthDate: '1980-04-12',
  _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1980-04-12T10:00:00+01:00' }] },
  multipleBirthInteger: 2,
  managingOrganization: { reference: '#o1' },
} as unknown as Patient;

describe('FHIR XML conversion', () => {
  it('when a resource goes to XML and back, then the same JSON comes out (primitive extensions with holes, narrative, contained, uuid, special characters)', () => {
    expect(xmlToResource(resourceToXml(rich))).to.deep.equal(rich);
  });

  it('when a resource goes to XML, then elements are in FHIR order with value attributes, escaped text and tabs kept as character references', () => {
    const xml = resourceToXml(rich);
    expect(xml).to.match(new RegExp(`^<\\?xml version="1.0" encoding="UTF-8"\\?><Patient ${NS}><id value="p1"/><meta>`));
    expect(xml).to.contain('<valueString value="a&quot;b&lt;c&gt;&amp;d&#x9;e&#xA;f &amp;amp;"/>');
    expect(xml).to.contain('<given value="Jeanne"/><given value="Marie"><extension url="http://example.org/g"><valueCode value="x"/></extension></given>');
    expect(xml).to.contain('<valueUuid value="urn:uuid:0d3a7f1e-1111-2222-3333-444455556666"/>');
    expect(xml.indexOf('<text>')).to.be.lessThan(xml.indexOf('<contained>'));
  });

  it('when XML carries decimals, integers and booleans, then JSON gets numbers and booleans, not strings', () => {
    const obs = xmlToResource(
      `<Observation ${NS}><status value="final"/><code><text value="t"/></code><valueQuantity><value value="-12.50"/></valueQuantity>` +
        `<component><code><text value="c"/></code><valueInteger value="7"/></component><component><code><text value="b"/></code><valueBoolean value="false"/></component></Observation>`
    ) as Observation;
    expect(obs.valueQuantity?.value).to.equal(-12.5);
    expect(obs.component?.map((c) => c.valueInteger ?? c.valueBoolean)).to.deep.equal([7, false]);
  });

  it('when the FHIR namespace is bound to a prefix, or comments, a BOM and whitespace surround the elements, then the resource is read all the same', () => {
    const patient = xmlToResource(`\uFEFF<?xml version="1.0"?>\n<!-- c --><f:Patient xmlns:f="http://hl7.org/fhir">\n  <!-- c2 --><f:active value="true"/>\n</f:Patient>`);
    expect(patient).to.deep.equal({ resourceType: 'Patient', active: true });
  });

  it('when a Parameters holds a resource, then the inner resource is converted too', () => {
    const parameters = xmlToResource(`<Parameters ${NS}><parameter><name value="resource"/><resource><Patient><gender value="male"/></Patient></resource></parameter></Parameters>`) as Parameters;
    expect(parameters.parameter?.[0].resource).to.deep.equal({ resourceType: 'Patient', gender: 'male' });
  });

  it('when a text is a FHIR resource of a type, then isFhirResourceXml says so; a CDA or garbage is not', () => {
    expect(isFhirResourceXml(`<?xml version="1.0"?><Binary ${NS}><contentType value="text/plain"/></Binary>`, 'Binary')).to.equal(true);
    expect(isFhirResourceXml('<ClinicalDocument xmlns="urn:hl7-org:v3"/>', 'Binary')).to.equal(false);
    expect(isFhirResourceXml('<Binary/>', 'Binary')).to.equal(false);
    expect(isFhirResourceXml('%PDF-1.4', 'Binary')).to.equal(false);
  });
});

describe('FHIR XML refusals (400 MALFORMED_BODY)', () => {
  const cases: { what: string; xml: string; text: RegExp; expression?: string }[] = [
    { what: 'an unclosed element', xml: `<Patient ${NS}><name>`, text: /not well-formed XML: unclosed tag: name \(line 1, column \d+\)/ },
    { what: 'text before the root', xml: 'hello', text: /not well-formed XML/ },
    { what: 'an empty body', xml: '', text: /not well-formed XML: document must contain a root element/ },
    { what: 'a DOCTYPE (no entity is ever expanded)', xml: `<!DOCTYPE x [<!ENTITY a "b">]><Patient ${NS}><gender value="&a;"/></Patient>`, text: /DOCTYPE/ },
    { what: 'a root outside the FHIR namespace', xml: '<Patient><active value="true"/></Patient>', text: /not in the FHIR namespace/ },
    { what: 'a root that is a data type', xml: `<HumanName ${NS}/>`, text: /<HumanName> is not a FHIR R4 resource type/ },
    { what: 'an unknown root', xml: `<Foo ${NS}/>`, text: /<Foo> is not a FHIR R4 resource type/ },
    { what: 'a misspelt element', xml: `<Patient ${NS}><name><familly value="x"/></name></Patient>`, text: /Patient\.name\[0\]\.familly\[0\] is not a FHIR R4 element/, expression: 'Patient.name[0].familly[0]' },
    { what: 'an unknown element in a Bundle entry', xml: `<Bundle ${NS}><type value="transaction"/><entry><resource><Patient><bogus value="1"/></Patient></resource></entry></Bundle>`, text: /bogus/, expression: 'Bundle.entry[0].resource[0].bogus[0]' },
    { what: 'an empty element', xml: `<Patient ${NS}><gender/></Patient>`, text: /Patient\.gender\[0\] is not understood here/, expression: 'Patient.gender[0]' },
    { what: 'a value written as text', xml: `<Patient ${NS}><name><given>Jeanne</given></name></Patient>`, text: /holds text/, expression: 'Patient.name[0].given[0]' },
    { what: 'an unknown attribute', xml: `<Patient ${NS}><active value="true" valeur="x"/></Patient>`, text: /Attribute "valeur"/, expression: 'Patient.active[0]' },
    { what: 'an element in another namespace', xml: `<Patient ${NS}><name xmlns="urn:other"/></Patient>`, text: /not in the FHIR namespace/, expression: 'Patient.name[0]' },
    { what: 'a boolean that is not one', xml: `<Patient ${NS}><active value="maybe"/></Patient>`, text: /not a valid FHIR R4 Patient: Value should be a boolean/ },
    { what: 'a decimal that is not one', xml: `<Observation ${NS}><valueQuantity><value value="1,5"/></valueQuantity></Observation>`, text: /decimal/ },
  ];
  for (const { what, xml, text, expression } of cases) {
    it(`when the XML has ${what}, then 400 MALFORMED_BODY saying so${expression ? ' with the element in expression' : ''}`, () => {
      const err = refusal(xml);
      expect(err.status).to.equal(400);
      expect(err.outcome.issue[0].details?.coding?.[0].code).to.equal('DMPF-0010');
      expect(err.message).to.match(text);
      expect(err.outcome.issue[0].expression).to.deep.equal(expression ? [expression] : undefined);
    });
  }

  it('when the resource converts to XML, then an unknown resource type in JSON is refused by the converter, not silently written', () => {
    expect(() => resourceToXml({ resourceType: 'Foo' } as unknown as Resource)).to.throw(/Unknown resource type/);
  });
});

import { expect } from 'chai';
import type { DocumentReference, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { CATALOGUE, FhirError, type ErrorKind } from '../../src/fhir/outcomes.js';
import { applyFhirPathPatch } from '../../src/fhir/patch/fhirpath-patch.js';

const VIS = 'urn:test:vis';
const label = (code: string): { coding: { system: string; code: string }[] } => ({ coding: [{ system: VIS, code }] });
const codes = (doc: DocumentReference): string[] => (doc.securityLabel ?? []).map((l) => l.coding?.[0]?.code as string);

function doc(): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    securityLabel: [label('A'), label('B'), label('C')],
    extension: [{ url: 'urn:test:flag', valueBoolean: true }],
    content: [{ attachment: { contentType: 'text/plain' } }],
  };
}

function patch(...operations: ParametersParameter[][]): Parameters {
  return { resourceType: 'Parameters', parameter: operations.map((part) => ({ name: 'operation', part })) };
}

function op(type: string, path: string, extra: ParametersParameter[] = []): ParametersParameter[] {
  return [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...extra];
}

function expectError(fn: () => unknown, kind: ErrorKind): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(FhirError);
    expect((err as FhirError).outcome.issue[0].details?.coding?.[0].code).to.equal(CATALOGUE[kind].id);
    return;
  }
  expect.fail(`expected a ${kind} FhirError`);
}

describe('FHIRPath Patch (FHIR R4 fhirpatch.html) on a copy of a resource', () => {
  it('when an item is inserted at an index, then it lands there and the original is untouched', () => {
    const original = doc();
    const patched = applyFhirPathPatch(original, patch(op('insert', 'DocumentReference.securityLabel', [{ name: 'index', valueInteger: 1 }, { name: 'value', valueCodeableConcept: label('X') }])));
    expect(codes(patched)).to.deep.equal(['A', 'X', 'B', 'C']);
    expect(codes(original)).to.deep.equal(['A', 'B', 'C']);
  });

  it('when an item is moved from source to destination, then the order changes and nothing is lost', () => {
    const patched = applyFhirPathPatch(doc(), patch(op('move', 'DocumentReference.securityLabel', [{ name: 'source', valueInteger: 0 }, { name: 'destination', valueInteger: 2 }])));
    expect(codes(patched)).to.deep.equal(['B', 'C', 'A']);
  });

  it('when an indexed item is replaced, then only that item changes', () => {
    const patched = applyFhirPathPatch(doc(), patch(op('replace', 'DocumentReference.securityLabel[1]', [{ name: 'value', valueCodeableConcept: label('Y') }])));
    expect(codes(patched)).to.deep.equal(['A', 'Y', 'C']);
  });

  it('when a choice value is replaced with another type, then the JSON key follows the type', () => {
    const patched = applyFhirPathPatch(doc(), patch(op('replace', "DocumentReference.extension.where(url = 'urn:test:flag').value", [{ name: 'value', valueString: 'yes' }])));
    expect(patched.extension).to.deep.equal([{ url: 'urn:test:flag', valueString: 'yes' }]);
  });

  it('when delete selects nothing, then the resource is unchanged (not an error)', () => {
    const patched = applyFhirPathPatch(doc(), patch(op('delete', "DocumentReference.securityLabel.where(coding.code = 'Z')")));
    expect(patched).to.deep.equal(doc());
  });

  it('when the last item of a list is deleted, then the element disappears rather than staying empty', () => {
    const patched = applyFhirPathPatch(doc(), patch(op('delete', "DocumentReference.extension('urn:test:flag')")));
    expect(patched).to.not.have.property('extension');
  });

  it('when delete selects several elements, then 409 CONFLICT', () => {
    expectError(() => applyFhirPathPatch(doc(), patch(op('delete', 'DocumentReference.securityLabel'))), 'CONFLICT');
  });

  it('when add targets a non-repeating element already present, then 409 CONFLICT (replace is the way)', () => {
    expectError(() => applyFhirPathPatch(doc(), patch(op('add', 'DocumentReference', [{ name: 'name', valueString: 'status' }, { name: 'value', valueCode: 'superseded' }]))), 'CONFLICT');
  });

  it('when add names an element the type does not have, then 400', () => {
    expectError(() => applyFhirPathPatch(doc(), patch(op('add', 'DocumentReference', [{ name: 'name', valueString: 'colour' }, { name: 'value', valueString: 'red' }]))), 'BAD_REQUEST');
  });

  it('when insert is past the end of the list, then 409 CONFLICT', () => {
    expectError(() => applyFhirPathPatch(doc(), patch(op('insert', 'DocumentReference.securityLabel', [{ name: 'index', valueInteger: 9 }, { name: 'value', valueCodeableConcept: label('X') }]))), 'CONFLICT');
  });

  it('when a parameter is not named "operation", then 400 MALFORMED_BODY', () => {
    expectError(() => applyFhirPathPatch(doc(), { resourceType: 'Parameters', parameter: [{ name: 'op', part: op('delete', 'DocumentReference.status') }] }), 'MALFORMED_BODY');
  });
});

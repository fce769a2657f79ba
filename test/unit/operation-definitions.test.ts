import { expect } from 'chai';
import { validateResource } from '@medplum/core';
import { loadBaseDefinitions } from '../../src/fhir/definitions.js';
import { OPERATION_DEFINITION_BASE, SERVER_OPERATION_DEFINITIONS } from '../../src/fhir/operation-definitions.js';
import { ROUTES } from '../../src/fhir/router.js';

describe("the server's OperationDefinitions", () => {
  before(() => loadBaseDefinitions());

  for (const def of SERVER_OPERATION_DEFINITIONS) {
    it(`when ${def.code} is validated against FHIR R4, then it is a valid OperationDefinition whose url is its canonical and which a route serves`, () => {
      expect(validateResource(def)).to.deep.equal([]);
      expect(def.url).to.equal(`${OPERATION_DEFINITION_BASE}${def.id}`);
      expect(ROUTES.some((r) => r.interaction === `$${def.code}` && r.level === (def.system ? 'system' : 'instance'))).to.equal(true);
    });
  }
});

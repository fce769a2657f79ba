import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { IS_ARCHIVED_EXTENSION_URL, MHD_DESIGNATION_TYPE_EXTENSION_URL, MHD_SOURCE_ID_EXTENSION_URL } from '../../dmp/identifiers.js';

/**
 * The search parameters IHE MHD and PDSm (the French MHD) add to R4 for ITI-67 and ITI-66
 * (dmp-domain.md §6.3): MHD's `creation` on the content's creation date, PDSm's `period-start` / `period-end` on the act's period, `isArchived` on the archive extension
 * (DocumentReference and List), and the SubmissionSet's `designationType` and `sourceId`. They are
 * indexed into @medplum/core next to the R4 ones, so the indexer, the translator and the
 * CapabilityStatement treat them like any other.
 */
const PDSM_BASE = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/SearchParameter';

function param(id: string, code: string, base: SearchParameter['base'], type: SearchParameter['type'], expression: string, description: string): SearchParameter {
  return { resourceType: 'SearchParameter', id, url: `${PDSM_BASE}/${id}`, name: code, status: 'active', description, code, base, type, expression };
}

export const PDSM_SEARCH_PARAMETERS: readonly SearchParameter[] = [
  {
    ...param('DocumentReference-Creation', 'creation', ['DocumentReference'], 'date', 'DocumentReference.content.attachment.creation', 'When the document content was created (IHE MHD ITI-67)'),
    url: 'https://profiles.ihe.net/ITI/MHD/SearchParameter/DocumentReference-Creation',
  },
  param('DocumentReference-period-start', 'period-start', ['DocumentReference'], 'date', 'DocumentReference.context.period.start', 'Start of the act the document is about (serviceStartTime)'),
  param('DocumentReference-period-end', 'period-end', ['DocumentReference'], 'date', 'DocumentReference.context.period.end', 'End of the act the document is about (serviceStopTime)'),
  param('DocumentReference-isArchived', 'isArchived', ['DocumentReference'], 'token', `DocumentReference.extension('${IS_ARCHIVED_EXTENSION_URL}').value`, 'Archived document (true / false)'),
  param('List-isArchived', 'isArchived', ['List'], 'token', `List.extension('${IS_ARCHIVED_EXTENSION_URL}').value`, 'Archived SubmissionSet or folder (true / false)'),
  param('List-designationType', 'designationType', ['List'], 'token', `List.extension('${MHD_DESIGNATION_TYPE_EXTENSION_URL}').value`, 'SubmissionSet contentTypeCode'),
  param('List-sourceId', 'sourceId', ['List'], 'token', `List.extension('${MHD_SOURCE_ID_EXTENSION_URL}').value`, 'SubmissionSet sourceId'),
];

export const PDSM_SEARCH_PARAMETER_BUNDLE: Bundle<SearchParameter> = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: PDSM_SEARCH_PARAMETERS.map((resource) => ({ resource })),
};

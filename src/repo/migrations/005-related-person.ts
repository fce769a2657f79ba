import { resourceTables } from './001-init.js';
import type { Migration } from './index.js';

/**
 * RelatedPerson becomes a served type (issue 4: the legal representatives of a minor): its current
 * and history tables, built exactly as 001 builds every other type's. Its rows belong to the
 * compartment of `RelatedPerson.patient`; the search index side tables are shared and need nothing.
 */
export const relatedPersonMigration: Migration = {
  id: '005-related-person',
  statements: resourceTables('RelatedPerson'),
};

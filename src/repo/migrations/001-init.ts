import { currentTable, historyTable, type SupportedType } from '../../fhir/resource-types.js';
import type { Migration } from './index.js';

/**
 * The types this migration created. Frozen: a type added to RESOURCE_TYPES later gets its tables
 * from its own migration (005: RelatedPerson), so 001 stays the same on old and new databases.
 */
const INIT_RESOURCE_TYPES: readonly SupportedType[] = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'DocumentReference',
  'Binary',
  'List',
  'Consent',
  'AuditEvent',
];

/** The current and history tables of one resource type (used again by the migrations that add a type). */
export function resourceTables(type: SupportedType): string[] {
  const cur = currentTable(type);
  const hist = historyTable(type);
  // `patient_id` names the patient compartment each row belongs to: the future shard key.
  // `bytes` holds Binary content outside the JSON body (used by the Binary tables only).
  return [
    `CREATE TABLE ${cur} (
       id text PRIMARY KEY,
       version_id integer NOT NULL,
       last_updated timestamptz NOT NULL,
       deleted boolean NOT NULL DEFAULT false,
       patient_id text,
       content jsonb,
       bytes bytea
     )`,
    `CREATE INDEX ${cur}_updated ON ${cur} (last_updated, id)`,
    `CREATE INDEX ${cur}_patient ON ${cur} (patient_id)`,
    `CREATE TABLE ${hist} (
       id text NOT NULL,
       version_id integer NOT NULL,
       last_updated timestamptz NOT NULL,
       deleted boolean NOT NULL DEFAULT false,
       method text NOT NULL,
       patient_id text,
       content jsonb,
       bytes bytea,
       PRIMARY KEY (id, version_id)
     )`,
    `CREATE INDEX ${hist}_updated ON ${hist} (last_updated, id, version_id)`,
  ];
}

/** Search index side tables, one per search parameter type, shared by all resource types. */
const SEARCH_TABLES = [
  `CREATE TABLE sp_token (res_type text NOT NULL, res_id text NOT NULL, code text NOT NULL,
     system text, value text)`,
  `CREATE INDEX sp_token_lookup ON sp_token (res_type, code, value, system)`,
  `CREATE INDEX sp_token_res ON sp_token (res_id)`,
  `CREATE TABLE sp_string (res_type text NOT NULL, res_id text NOT NULL, code text NOT NULL,
     value text NOT NULL, value_folded text NOT NULL)`,
  `CREATE INDEX sp_string_lookup ON sp_string (res_type, code, value_folded text_pattern_ops)`,
  `CREATE INDEX sp_string_res ON sp_string (res_id)`,
  `CREATE TABLE sp_date (res_type text NOT NULL, res_id text NOT NULL, code text NOT NULL,
     lo timestamptz NOT NULL, hi timestamptz NOT NULL)`,
  `CREATE INDEX sp_date_lookup ON sp_date (res_type, code, lo, hi)`,
  `CREATE INDEX sp_date_res ON sp_date (res_id)`,
  `CREATE TABLE sp_reference (res_type text NOT NULL, res_id text NOT NULL, code text NOT NULL,
     target_type text, target_id text, reference text NOT NULL)`,
  `CREATE INDEX sp_reference_lookup ON sp_reference (res_type, code, target_id)`,
  `CREATE INDEX sp_reference_target ON sp_reference (target_id, code)`,
  `CREATE INDEX sp_reference_res ON sp_reference (res_id)`,
];

/** Small key/value facts about this database (e.g. whether the demo data was loaded). */
const STATE_TABLE = `CREATE TABLE app_state (key text PRIMARY KEY, value text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`;

export const initMigration: Migration = {
  id: '001-init',
  statements: [...INIT_RESOURCE_TYPES.flatMap(resourceTables), ...SEARCH_TABLES, STATE_TABLE],
};

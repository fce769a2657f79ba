import { getSearchParameters, parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import type { SupportedType } from '../resource-types.js';

/** Parameters every type accepts; they search columns of the resource table itself. */
export const COMMON_PARAMS = ['_id', '_lastUpdated'] as const;

/**
 * The search parameters each type supports, besides the common ones. This table is the single
 * source of truth: the indexer indexes exactly these, the search translator accepts exactly
 * these, and the CapabilityStatement lists exactly these.
 */
export const SUPPORTED_SEARCH_PARAMS: Readonly<Record<SupportedType, readonly string[]>> = {
  Patient: ['identifier', 'name', 'family', 'given', 'birthdate', 'gender', 'general-practitioner', 'organization'],
  Practitioner: ['identifier', 'name', 'given', 'family'],
  Organization: ['identifier', 'name'],
  PractitionerRole: ['practitioner', 'organization', 'role', 'specialty'],
  DocumentReference: [
    'patient',
    'subject',
    'identifier',
    'status',
    'type',
    'category',
    'date',
    'period',
    'author',
    'facility',
    'setting',
    'event',
    'security-label',
    'format',
    'relatesto',
    'contenttype',
    'period-start',
    'period-end',
    'isArchived',
    'creation',
    'related',
  ],
  Binary: [],
  List: ['patient', 'code', 'date', 'identifier', 'source', 'status', 'title', 'isArchived', 'designationType', 'sourceId'],
  Consent: ['patient', 'status', 'category', 'actor', 'date'],
  AuditEvent: ['patient', 'agent', 'entity', 'date', 'type', 'subtype', 'action', 'outcome'],
  RelatedPerson: ['patient', 'identifier', 'name', 'relationship', 'active'],
};

export type ParamType = 'token' | 'string' | 'date' | 'reference';

/** A supported search parameter with what the translator and indexer need. */
export interface ParamDef {
  readonly code: string;
  readonly type: ParamType;
  /** The FHIRPath expression, restricted to this resource type's branches. */
  readonly expression: string;
  /** The expression, parsed once. */
  readonly atom: FhirPathAtom;
  /** Resource types a reference parameter may point to. */
  readonly targets: readonly string[];
  readonly definition: SearchParameter;
}

const cache = new Map<string, ParamDef | undefined>();

/** The definition of a supported (non-common) parameter, or undefined if not supported. */
export function paramDef(type: SupportedType, code: string): ParamDef | undefined {
  const key = `${type}.${code}`;
  if (!cache.has(key)) {
    cache.set(key, buildDef(type, code));
  }
  return cache.get(key);
}

function buildDef(type: SupportedType, code: string): ParamDef | undefined {
  if (!SUPPORTED_SEARCH_PARAMS[type].includes(code)) {
    return undefined;
  }
  const definition = getSearchParameters(type)?.[code];
  if (!definition?.expression || !isParamType(definition.type)) {
    throw new Error(`Search parameter ${key(type, code)} has no usable R4 definition`);
  }
  const expression = ownBranches(type, definition.expression);
  return {
    code,
    type: definition.type,
    expression,
    atom: parseFhirPath(expression),
    targets: definition.target ?? [],
    definition,
  };
}

/**
 * R4 shares one SearchParameter between many types (`patient` spans ~30 of them): keep only the
 * union branches about this type, so indexing parses and evaluates a short expression.
 */
export function ownBranches(type: string, expression: string): string {
  const branches = expression.split(' | ').map((b) => b.trim());
  const own = branches.filter((b) => b.startsWith(`${type}.`) || b.startsWith(`(${type}.`));
  return own.length > 0 && own.length < branches.length ? own.join(' | ') : expression;
}

function key(type: string, code: string): string {
  return `${type}.${code}`;
}

function isParamType(t: string | undefined): t is ParamType {
  return t === 'token' || t === 'string' || t === 'date' || t === 'reference';
}

/** All supported non-common parameter definitions of a type. */
export function paramDefs(type: SupportedType): ParamDef[] {
  return SUPPORTED_SEARCH_PARAMS[type].map((code) => paramDef(type, code) as ParamDef);
}

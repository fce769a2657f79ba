import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { FhirError } from '../outcomes.js';

/** The operation types of FHIRPath Patch (FHIR R4 fhirpatch.html). */
export type FhirPathPatchType = 'add' | 'insert' | 'delete' | 'replace' | 'move';

/**
 * A value given in an operation: either a FHIR datatype (`value[x]`, `typeSuffix` its type as in
 * the JSON key, e.g. `CodeableConcept`), or named parts for a type that has no `value[x]` form
 * (e.g. an Extension), turned into JSON once the target element's type is known.
 */
export type PatchValue =
  | { readonly kind: 'typed'; readonly typeSuffix: string; readonly value: unknown }
  | { readonly kind: 'parts'; readonly parts: readonly ParametersParameter[] };

/** One FHIRPath Patch operation, checked for the parts its type needs. */
export interface FhirPathPatchOperation {
  /** Position in Parameters.parameter, for error expressions. */
  readonly index: number;
  readonly type: FhirPathPatchType;
  readonly path: string;
  readonly name?: string;
  readonly value?: PatchValue;
  readonly position?: number;
  readonly source?: number;
  readonly destination?: number;
}

const TYPES: readonly FhirPathPatchType[] = ['add', 'insert', 'delete', 'replace', 'move'];

/** Which parts each operation type requires (besides type and path). */
const REQUIRED: Readonly<Record<FhirPathPatchType, readonly string[]>> = {
  add: ['name', 'value'],
  insert: ['value', 'index'],
  delete: [],
  replace: ['value'],
  move: ['source', 'destination'],
};

const PARTS = new Set(['type', 'path', 'name', 'value', 'index', 'source', 'destination']);

/** Reads a FHIRPath Patch Parameters resource; anything malformed is a 400 naming the parameter. */
export function readFhirPathPatch(parameters: Parameters): FhirPathPatchOperation[] {
  const list = parameters.parameter ?? [];
  if (list.length === 0) {
    throw bad('A FHIRPath Patch needs at least one "operation" parameter', 'Parameters.parameter');
  }
  return list.map((param, index) => readOperation(param, index));
}

function readOperation(param: ParametersParameter, index: number): FhirPathPatchOperation {
  const at = `Parameters.parameter[${index}]`;
  if (param.name !== 'operation') {
    throw bad(`Every parameter of a FHIRPath Patch is named "operation" (got "${String(param.name)}")`, `${at}.name`);
  }
  const parts = new Map<string, ParametersParameter>();
  (param.part ?? []).forEach((part, i) => {
    if (!PARTS.has(part.name) || parts.has(part.name)) {
      throw bad(`Unknown or repeated part "${String(part.name)}" in a FHIRPath Patch operation`, `${at}.part[${i}]`);
    }
    parts.set(part.name, part);
  });
  const type = parts.get('type')?.valueCode as FhirPathPatchType | undefined;
  if (!type || !TYPES.includes(type)) {
    throw bad(`The operation type must be one of ${TYPES.join(', ')} (valueCode)`, `${at}.part`);
  }
  const path = parts.get('path')?.valueString;
  if (!path) {
    throw bad('The operation needs a "path" (valueString, a FHIRPath expression)', `${at}.part`);
  }
  for (const name of REQUIRED[type]) {
    if (!parts.has(name)) {
      throw bad(`A FHIRPath Patch "${type}" needs a "${name}" part`, `${at}.part`);
    }
  }
  return {
    index,
    type,
    path,
    ...(parts.has('name') ? { name: stringPart(parts.get('name'), `${at}.part`) } : {}),
    ...(parts.has('value') ? { value: valueOf(parts.get('value') as ParametersParameter, `${at}.part`) } : {}),
    ...(parts.has('index') ? { position: integerPart(parts.get('index'), `${at}.part`) } : {}),
    ...(parts.has('source') ? { source: integerPart(parts.get('source'), `${at}.part`) } : {}),
    ...(parts.has('destination') ? { destination: integerPart(parts.get('destination'), `${at}.part`) } : {}),
  };
}

/** The `value[x]` of a parameter (key and value), if it has one. */
export function typedValueOf(param: ParametersParameter): { typeSuffix: string; value: unknown } | undefined {
  const entries = Object.entries(param).filter(([key]) => /^value[A-Z]/.test(key));
  if (entries.length !== 1) {
    return undefined;
  }
  const [key, value] = entries[0];
  return { typeSuffix: key.slice('value'.length), value };
}

function valueOf(param: ParametersParameter, at: string): PatchValue {
  const typed = typedValueOf(param);
  if (typed && !param.part) {
    return { kind: 'typed', ...typed };
  }
  if (!typed && param.part && param.part.length > 0) {
    return { kind: 'parts', parts: param.part };
  }
  throw bad('The "value" part needs exactly one value[x], or parts naming the elements of the value', at);
}

function stringPart(param: ParametersParameter | undefined, at: string): string {
  if (typeof param?.valueString !== 'string' || param.valueString === '') {
    throw bad('"name" must be a valueString naming an element', at);
  }
  return param.valueString;
}

function integerPart(param: ParametersParameter | undefined, at: string): number {
  if (!Number.isInteger(param?.valueInteger) || (param?.valueInteger as number) < 0) {
    throw bad(`"${String(param?.name)}" must be a valueInteger of 0 or more`, at);
  }
  return param?.valueInteger as number;
}

function bad(text: string, expression: string): FhirError {
  return new FhirError('MALFORMED_BODY', `Invalid FHIRPath Patch: ${text}`, [expression]);
}

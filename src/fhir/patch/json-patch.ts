import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../outcomes.js';

const { applyPatch, deepClone, JsonPatchError, validate } = jsonpatch;

/**
 * Applies an RFC 6902 JSON Patch to a copy of a resource (fast-json-patch, which also refuses
 * `__proto__` / `constructor` paths). A malformed document is a 400; a well-formed one that does
 * not fit the current version (a failing `test`, a path that does not exist) is a 409 Conflict, as
 * RFC 5789 §2.2 says for a patch the resource's state does not allow.
 * The library's own messages embed the whole document: they are never passed on, nor logged.
 */
export function applyJsonPatch<T extends Resource>(resource: T, operations: unknown): T {
  const structural = validate(operations as Operation[]);
  if (structural) {
    throw new FhirError('MALFORMED_BODY', `Invalid JSON Patch document: ${describe(structural.name, structural.index, operations)}`, where(structural.index));
  }
  try {
    return applyPatch(deepClone(resource) as T, operations as Operation[], true, false).newDocument;
  } catch (err) {
    if (err instanceof JsonPatchError) {
      const text = describe(err.name, err.index, operations);
      throw new FhirError('CONFLICT', `The JSON Patch does not apply to the current version: ${text}`, where(err.index));
    }
    if (err instanceof TypeError) {
      throw new FhirError('MALFORMED_BODY', 'Invalid JSON Patch document: a path may not name __proto__, constructor or prototype');
    }
    throw err;
  }
}

/** What fast-json-patch's error names mean, in words a client developer reads. */
const REASONS: Readonly<Record<string, string>> = {
  SEQUENCE_NOT_AN_ARRAY: 'the body must be an array of operations',
  OPERATION_NOT_AN_OBJECT: 'each operation must be an object',
  OPERATION_OP_INVALID: '"op" must be add, remove, replace, move, copy or test',
  OPERATION_PATH_INVALID: '"path" must be a JSON Pointer such as /status',
  OPERATION_FROM_REQUIRED: '"from" is required for move and copy',
  OPERATION_VALUE_REQUIRED: '"value" is required for add, replace and test',
  OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: '"value" contains undefined',
  OPERATION_PATH_CANNOT_ADD: 'the parent of "path" does not exist',
  OPERATION_PATH_UNRESOLVABLE: '"path" does not exist',
  OPERATION_FROM_UNRESOLVABLE: '"from" does not exist',
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: '"path" has an invalid array index',
  OPERATION_VALUE_OUT_OF_BOUNDS: 'the array index is out of bounds',
  TEST_OPERATION_FAILED: 'the "test" operation failed',
};

function describe(name: string, index: number | undefined, operations: unknown): string {
  const reason = REASONS[name] ?? name;
  if (index === undefined || !Array.isArray(operations)) {
    return reason;
  }
  const op = operations[index] as { op?: unknown; path?: unknown } | undefined;
  const path = typeof op?.path === 'string' ? ` ${op.path}` : '';
  const verb = typeof op?.op === 'string' ? ` (${op.op}${path})` : '';
  return `operation ${index}${verb}: ${reason}`;
}

function where(index: number | undefined): string[] | undefined {
  return index === undefined ? undefined : [`operation[${index}]`];
}

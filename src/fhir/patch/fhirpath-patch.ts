import { tryGetDataType, type InternalSchemaElement } from '@medplum/core';
import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../definitions.js';
import { FhirError } from '../outcomes.js';
import { evaluate, locateList, locateSelected, type ElementLocation } from './fhirpath-locate.js';
import { readFhirPathPatch, typedValueOf, type FhirPathPatchOperation, type PatchValue } from './fhirpath-patch-operations.js';

type Json = Record<string, unknown>;

/**
 * Applies a FHIRPath Patch (FHIR R4 fhirpatch.html: add, insert, delete, replace, move) to a copy
 * of a resource. @medplum/core evaluates the paths; this module places the changes. Paths are a
 * subset of FHIRPath (see fhirpath-locate.ts); the result is validated afterwards like any write.
 */
export function applyFhirPathPatch<T extends Resource>(resource: T, parameters: Parameters): T {
  loadBaseDefinitions();
  const operations = readFhirPathPatch(parameters);
  const doc = structuredClone(resource);
  for (const op of operations) {
    applyOperation(doc, op);
  }
  return doc;
}

function applyOperation(doc: Resource, op: FhirPathPatchOperation): void {
  const at = `Parameters.parameter[${op.index}]`;
  switch (op.type) {
    case 'add':
      return add(doc, op, at);
    case 'insert':
      return insert(doc, op, at);
    case 'delete':
      return remove(doc, op, at);
    case 'replace':
      return replace(doc, op, at);
    case 'move':
      return move(doc, op, at);
  }
}

/** add: a new `name` child of the one element at `path` (appended when it repeats). */
function add(doc: Resource, op: FhirPathPatchOperation, at: string): void {
  const containers = evaluate(doc, op.path, at).filter((c) => typeof c.value === 'object' && c.value !== null);
  if (containers.length !== 1) {
    throw conflict(`add needs "${op.path}" to be exactly one element (found ${containers.length})`, at);
  }
  const container = containers[0].value as Json;
  const { def, choice } = elementOf(containers[0].type, op.name as string, at);
  const { key, value } = jsonValue(op.value as PatchValue, def, op.name as string, choice, at);
  if (def.isArray) {
    container[key] = [...((container[key] as unknown[] | undefined) ?? []), value];
    return;
  }
  if (choice ? Object.keys(container).some((k) => k.startsWith(op.name as string) && /^[A-Z]/.test(k.slice((op.name as string).length))) : key in container) {
    throw conflict(`${containers[0].type}.${op.name as string} is already present and does not repeat: use replace`, at);
  }
  container[key] = value;
}

/** insert: a new item at `index` of the repeating element `path`. */
function insert(doc: Resource, op: FhirPathPatchOperation, at: string): void {
  const list = locateList(doc, op.path, at);
  const { def } = elementOf(list.parentType, list.name, at);
  if (!def.isArray) {
    throw new FhirError('BAD_REQUEST', `FHIRPath Patch insert needs a repeating element: "${op.path}" does not repeat`, [at]);
  }
  const items = [...((list.parent[list.name] as unknown[] | undefined) ?? [])];
  const position = op.position as number;
  if (position > items.length) {
    throw conflict(`index ${position} is past the end of "${op.path}" (${items.length} items)`, at);
  }
  items.splice(position, 0, jsonValue(op.value as PatchValue, def, list.name, false, at).value);
  list.parent[list.name] = items;
}

/** delete: the one element `path` selects; nothing selected is not an error (R4 fhirpatch.html). */
function remove(doc: Resource, op: FhirPathPatchOperation, at: string): void {
  const found = locateSelected(doc, op.path, at);
  if (found.length > 1) {
    throw conflict(`delete removes one element at a time: "${op.path}" selects ${found.length}`, at);
  }
  if (found.length === 1) {
    detach(found[0]);
  }
}

/** replace: the value of the one element `path` selects. */
function replace(doc: Resource, op: FhirPathPatchOperation, at: string): void {
  const found = locateSelected(doc, op.path, at);
  if (found.length !== 1) {
    throw conflict(`replace needs "${op.path}" to select exactly one element (found ${found.length})`, at);
  }
  const target = found[0];
  const choice = target.key !== target.name;
  const { key, value } = jsonValue(op.value as PatchValue, { type: [{ code: target.type }] } as InternalSchemaElement, target.name, choice, at);
  if (target.index !== undefined) {
    (target.parent[target.key] as unknown[])[target.index] = value;
    return;
  }
  delete target.parent[target.key];
  target.parent[key] = value;
}

/** move: an item of the repeating element `path` from `source` to `destination`. */
function move(doc: Resource, op: FhirPathPatchOperation, at: string): void {
  const list = locateList(doc, op.path, at);
  const items = list.parent[list.name];
  const { source, destination } = op as Required<FhirPathPatchOperation>;
  if (!Array.isArray(items) || source >= items.length || destination >= items.length) {
    throw conflict(`source ${source} or destination ${destination} is outside "${op.path}"`, at);
  }
  const [item] = items.splice(source, 1);
  items.splice(destination, 0, item);
}

function detach(found: ElementLocation): void {
  if (found.index === undefined) {
    delete found.parent[found.key];
    return;
  }
  const items = found.parent[found.key] as unknown[];
  items.splice(found.index, 1);
  if (items.length === 0) {
    delete found.parent[found.key];
  }
}

/** The definition of element `name` of a FHIR type (a choice element is found as `name[x]`). */
function elementOf(typeName: string, name: string, at: string): { def: InternalSchemaElement; choice: boolean } {
  const schema = tryGetDataType(typeName);
  const plain = schema?.elements[name];
  if (plain) {
    return { def: plain, choice: false };
  }
  const choice = schema?.elements[`${name}[x]`];
  if (choice) {
    return { def: choice, choice: true };
  }
  throw new FhirError('BAD_REQUEST', `Invalid FHIRPath Patch: ${typeName} has no element "${name}"`, [at]);
}

/**
 * The JSON of a patch value for an element: a `value[x]` as it is; named parts built into an
 * object of the element's type. A choice element's key takes the value's type (`valueBoolean`).
 */
function jsonValue(value: PatchValue, def: InternalSchemaElement, name: string, choice: boolean, at: string): { key: string; value: unknown } {
  if (value.kind === 'typed') {
    return { key: choice ? `${name}${value.typeSuffix}` : name, value: value.value };
  }
  if (choice || def.type.length !== 1) {
    throw new FhirError('BAD_REQUEST', `Invalid FHIRPath Patch: give "${name}" as a value[x], since its type is a choice`, [at]);
  }
  return { key: name, value: objectFromParts(value.parts, def.type[0].code, at) };
}

/** An object of FHIR type `typeName` from named parts (FHIR R4 fhirpatch.html, complex values). */
function objectFromParts(parts: readonly ParametersParameter[], typeName: string, at: string): Json {
  const obj: Json = {};
  for (const part of parts) {
    const { def, choice } = elementOf(typeName, part.name, at);
    const typed = typedValueOf(part);
    const value: PatchValue | undefined = typed ? { kind: 'typed', ...typed } : part.part?.length ? { kind: 'parts', parts: part.part } : undefined;
    if (!value) {
      throw new FhirError('MALFORMED_BODY', `Invalid FHIRPath Patch: part "${part.name}" has no value`, [at]);
    }
    const built = jsonValue(value, def, part.name, choice, at);
    if (def.isArray) {
      obj[built.key] = [...((obj[built.key] as unknown[] | undefined) ?? []), built.value];
    } else if (built.key in obj) {
      throw new FhirError('MALFORMED_BODY', `Invalid FHIRPath Patch: part "${part.name}" is repeated but ${typeName}.${part.name} does not repeat`, [at]);
    } else {
      obj[built.key] = built.value;
    }
  }
  return obj;
}

function conflict(text: string, at: string): FhirError {
  return new FhirError('CONFLICT', `The FHIRPath Patch does not apply to the current version: ${text}`, [at]);
}

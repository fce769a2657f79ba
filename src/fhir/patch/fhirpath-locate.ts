import { DotAtom, evalFhirPathTyped, FhirPathAtom, FunctionAtom, IndexerAtom, parseFhirPath, SymbolAtom, toTypedValue, type Atom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../outcomes.js';

type Json = Record<string, unknown>;

/** Where one element of the resource sits, so that it can be replaced or removed in place. */
export interface ElementLocation {
  readonly parent: Json;
  /** Element name as the path says it (`value`). */
  readonly name: string;
  /** JSON key holding it (`valueBoolean` for a choice element). */
  readonly key: string;
  /** Position when the element repeats. */
  readonly index?: number;
  readonly value: unknown;
  /** FHIR type of the element (from the FHIRPath evaluation). */
  readonly type: string;
}

/** A repeating element as a whole (for insert and move): its parent and name. */
export interface ListLocation {
  readonly parent: Json;
  readonly parentType: string;
  readonly name: string;
}

/**
 * The last navigation step of a path, under any trailing filters: `X.securityLabel.where(...)`
 * and `X.securityLabel[1]` both select items of `securityLabel` under `X`.
 */
interface Tail {
  readonly parent?: Atom;
  readonly name: string;
  readonly filtered: boolean;
}

/** Functions that only narrow the items of the element before them. */
const FILTERS = new Set(['where', 'first', 'last', 'single', 'skip', 'take', 'ofType']);

/** Evaluates a FHIRPath expression on the resource; a syntax or evaluation error is a 400 naming it. */
export function evaluate(resource: Resource, path: string, at: string): TypedValue[] {
  return evalAtom(parse(path, at), resource, path, at);
}

/** The elements a path selects, each with its place in the resource (FHIRPath Patch delete, replace). */
export function locateSelected(resource: Resource, path: string, at: string): ElementLocation[] {
  const atom = parse(path, at);
  const selected = evalAtom(atom, resource, path, at);
  if (selected.length === 0) {
    return [];
  }
  const tail = tailOf(atom, path, at);
  if (!tail.parent && tail.name === resource.resourceType) {
    throw unsupported(`"${path}" selects the resource itself, not one of its elements`, at);
  }
  const candidates = parentsOf(resource, tail, path, at).flatMap((p) => childrenOf(p, tail.name));
  if (selected.every((s) => isObject(s.value))) {
    return selected.map((s) => {
      const found = candidates.find((c) => c.value === s.value);
      if (!found) {
        throw unsupported(`"${path}" selects elements this server cannot place in the resource`, at);
      }
      return { ...found, type: s.type };
    });
  }
  // Primitives carry no identity: only a whole (unfiltered) element can be placed.
  if (tail.filtered || selected.length !== candidates.length) {
    throw unsupported(`"${path}" selects part of a repeating primitive element; select the whole element`, at);
  }
  return candidates.map((c, i) => ({ ...c, type: selected[i].type }));
}

/** The repeating element a path names as a whole (FHIRPath Patch insert and move). */
export function locateList(resource: Resource, path: string, at: string): ListLocation {
  const atom = parse(path, at);
  const tail = tailOf(atom, path, at);
  if (tail.filtered || (!tail.parent && tail.name === resource.resourceType)) {
    throw unsupported(`"${path}" must name a repeating element as a whole (e.g. DocumentReference.securityLabel)`, at);
  }
  const parents = tail.parent ? evalAtom(tail.parent, resource, path, at) : [toTypedValue(resource)];
  if (parents.length !== 1 || !isObject(parents[0].value)) {
    throw new FhirError('CONFLICT', `The FHIRPath Patch does not apply to the current version: "${path}" needs exactly one parent element (found ${parents.length})`, [at]);
  }
  return { parent: parents[0].value, parentType: parents[0].type, name: tail.name };
}

function parse(path: string, at: string): FhirPathAtom {
  try {
    return parseFhirPath(path);
  } catch {
    throw new FhirError('MALFORMED_BODY', `Invalid FHIRPath Patch: "${path}" is not a valid FHIRPath expression`, [at]);
  }
}

function evalAtom(atom: Atom, resource: Resource, path: string, at: string): TypedValue[] {
  try {
    const expression = atom instanceof FhirPathAtom ? atom : new FhirPathAtom(atom.toString(), atom);
    return evalFhirPathTyped(expression, [toTypedValue(resource)]);
  } catch {
    throw new FhirError('MALFORMED_BODY', `Invalid FHIRPath Patch: "${path}" cannot be evaluated`, [at]);
  }
}

function tailOf(atom: Atom, path: string, at: string, filtered = false): Tail {
  if (atom instanceof FhirPathAtom) {
    return tailOf(atom.child, path, at, filtered);
  }
  if (atom instanceof SymbolAtom) {
    return { name: atom.name, filtered };
  }
  if (atom instanceof IndexerAtom) {
    return tailOf(atom.left, path, at, true);
  }
  if (atom instanceof DotAtom) {
    const right = atom.right;
    if (right instanceof SymbolAtom) {
      return { parent: atom.left, name: right.name, filtered };
    }
    if (right instanceof FunctionAtom && right.name === 'extension') {
      return { parent: atom.left, name: 'extension', filtered: true };
    }
    if (right instanceof FunctionAtom && FILTERS.has(right.name)) {
      return tailOf(atom.left, path, at, true);
    }
  }
  throw unsupported(`"${path}" is outside the FHIRPath subset this server patches with (element names, where(), first(), last(), [n], extension(url))`, at);
}

function parentsOf(resource: Resource, tail: Tail, path: string, at: string): Json[] {
  const parents = tail.parent ? evalAtom(tail.parent, resource, path, at) : [toTypedValue(resource)];
  return parents.map((p) => p.value).filter(isObject);
}

/** The items of element `name` of one parent (a choice element `value` is found as `valueBoolean`...). */
function childrenOf(parent: Json, name: string): Omit<ElementLocation, 'type'>[] {
  const key = name in parent ? name : Object.keys(parent).find((k) => k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)));
  if (key === undefined) {
    return [];
  }
  const value = parent[key];
  return Array.isArray(value) ? value.map((item, index) => ({ parent, name, key, index, value: item })) : [{ parent, name, key, value }];
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unsupported(text: string, at: string): FhirError {
  return new FhirError('BAD_REQUEST', `FHIRPath Patch not supported here: ${text}`, [at]);
}

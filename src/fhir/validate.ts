/**
 * Validation of resources before they are written: base FHIR R4 rules first (400), then the
 * server's own profiles (422). The profiles are authored in FSH under profiles/ and compiled with
 * snapshots into profiles/generated/ (see profiles/README.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import type { ElementDefinition, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { checkRequiredBindings, loadBindings } from './bindings.js';
import { loadBaseDefinitions } from './definitions.js';
import { FhirError } from './outcomes.js';

/** Canonical base of the StructureDefinitions this server defines. */
export const PROFILE_BASE = 'https://dmp-fhir-server.org/fhir/StructureDefinition/';

/** resourceType -> the profile every written resource of that type must conform to. */
export const PROFILE_URLS: Readonly<Record<string, string>> = Object.freeze({
  Patient: `${PROFILE_BASE}dmp-patient-ins`,
  DocumentReference: `${PROFILE_BASE}dmp-document-reference`,
  Consent: `${PROFILE_BASE}dmp-consent`,
  AuditEvent: `${PROFILE_BASE}dmp-audit-event`,
});

/** Profiles of what IHE MHD submits (ITI-65, ITI-105): checked by src/mhd/, and whenever a resource claims them. */
export const MHD_PROFILE_URLS: Readonly<Record<string, string>> = Object.freeze({
  comprehensiveDocumentReference: `${PROFILE_BASE}dmp-comprehensive-document-reference`,
  submissionSet: `${PROFILE_BASE}dmp-submission-set`,
});

const GENERATED_DIR = fileURLToPath(new URL('../../profiles/generated/', import.meta.url));
const HL7_SD_BASE = 'http://hl7.org/fhir/StructureDefinition/';

const profilesByUrl = new Map<string, StructureDefinition>();

function readGeneratedProfiles(): StructureDefinition[] {
  const files = fs.readdirSync(GENERATED_DIR).filter((f) => /^StructureDefinition-.+\.json$/.test(f));
  return files.sort().map((f) => JSON.parse(fs.readFileSync(path.join(GENERATED_DIR, f), 'utf8')));
}

/** Indexes the base R4 definitions and our generated profiles in @medplum/core (once per process). */
export function loadProfiles(): void {
  if (profilesByUrl.size > 0) {
    return;
  }
  loadBaseDefinitions();
  loadBindings();
  const sds = readGeneratedProfiles();
  for (const sd of sds) {
    if (!sd.url || !sd.snapshot?.element?.length) {
      throw new Error(`${GENERATED_DIR}: ${sd.id} has no url or no snapshot; run npm run profiles:build`);
    }
  }
  const missing = Object.values(PROFILE_URLS).filter((url) => !sds.some((sd) => sd.url === url));
  if (missing.length > 0) {
    throw new Error(`Profiles missing from ${GENERATED_DIR}: ${missing.join(', ')}; run npm run profiles:build`);
  }
  indexStructureDefinitionBundle(sds);
  for (const sd of sds) {
    profilesByUrl.set(sd.url, sd);
  }
}

/** The profile this server applies to every written resource of the given type, if any. */
export function ourProfileFor(resourceType: string): StructureDefinition | undefined {
  loadProfiles();
  const url = PROFILE_URLS[resourceType];
  return url ? profilesByUrl.get(url) : undefined;
}

/**
 * Validates a resource to be written: base R4 rules, including required bindings of `code`
 * elements (FhirError 'INVALID_RESOURCE', HTTP 400),
 * then our profile for its type and any of OUR profiles listed in meta.profile (FhirError
 * 'PROFILE_VIOLATION', HTTP 422). Every issue carries an `expression` naming the element.
 */
export function validateForWrite(resource: Resource): void {
  loadProfiles();
  const { subject, issues: dataIssues } = withoutBinaryData(resource);
  const baseIssues = [...dataIssues, ...runValidator(subject), ...checkRequiredBindings(subject)];
  if (baseIssues.length > 0) {
    throw FhirError.withIssues('INVALID_RESOURCE', baseIssues);
  }
  const { profiles, issues: profileIssues } = profilesToCheck(subject);
  for (const profile of profiles) {
    profileIssues.push(...profileIssuesOf(subject, profile));
  }
  if (profileIssues.length > 0) {
    throw FhirError.withIssues('PROFILE_VIOLATION', profileIssues);
  }
}

// ---------------------------------------------------------------------------------------------
// Base validation (@medplum/core)

type IssueCode = OperationOutcomeIssue['code'];

function issue(expression: string, text: string, code: IssueCode = 'structure'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}

/** Runs @medplum/core's validator; returns its error issues (warnings are not kept). */
function runValidator(resource: Resource, profile?: StructureDefinition): OperationOutcomeIssue[] {
  const where = resource.resourceType ?? 'Resource';
  try {
    validateResource(resource, profile ? { profile } : undefined);
    return [];
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? [])
        .filter((i) => i.severity === 'error' || i.severity === 'fatal')
        .map((i) => (i.expression?.length ? i : { ...i, expression: [where] }));
    }
    // The validator can trip over shapes it does not expect; that is still the client's input.
    return [issue(where, `Resource could not be validated: ${(err as Error).message}`)];
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The base validator refuses any string over 1 MB, which would cap documents at ~750 KB, so
 * Binary.data is taken out of the validated copy and its base64 syntax is checked here.
 */
function withoutBinaryData(resource: Resource): { subject: Resource; issues: OperationOutcomeIssue[] } {
  if (resource.resourceType !== 'Binary' || typeof resource.data !== 'string') {
    return { subject: resource, issues: [] };
  }
  const { data, ...subject } = resource;
  const valid = data.length > 0 && data.length % 4 === 0 && BASE64.test(data);
  return { subject, issues: valid ? [] : [issue('Binary.data', 'Invalid base64Binary format')] };
}

// ---------------------------------------------------------------------------------------------
// Profile validation

/** Our profile for the type, plus our profiles claimed in meta.profile; problems with claims. */
function profilesToCheck(resource: Resource): { profiles: StructureDefinition[]; issues: OperationOutcomeIssue[] } {
  const type = resource.resourceType;
  const profiles = new Set<StructureDefinition>();
  const issues: OperationOutcomeIssue[] = [];
  const own = ourProfileFor(type);
  if (own) {
    profiles.add(own);
  }
  (resource.meta?.profile ?? []).forEach((canonical, i) => {
    const url = canonical.split('|')[0];
    if (!url.startsWith(PROFILE_BASE)) {
      return; // someone else's profile (FR Core, IHE...): not ours to enforce
    }
    const sd = profilesByUrl.get(url);
    const where = `${type}.meta.profile[${i}]`;
    if (!sd) {
      issues.push(issue(where, `Unknown profile ${url}`, 'not-supported'));
    } else if (sd.type !== type) {
      issues.push(issue(where, `Profile ${url} applies to ${sd.type}, not ${type}`));
    } else {
      profiles.add(sd);
    }
  });
  return { profiles: [...profiles], issues };
}

/** Issues of one profile, each once per element, with the profile named in the text. */
function profileIssuesOf(resource: Resource, profile: StructureDefinition): OperationOutcomeIssue[] {
  const all = [...runValidator(resource, profile), ...differentialIssues(resource, profile)];
  const seen = new Set<string>();
  const unique = all.filter((i) => {
    const key = i.expression?.[0] ?? '';
    return !seen.has(key) && seen.add(key);
  });
  return unique.map((i) => ({ ...i, details: { text: `${i.details?.text ?? 'Invalid'} (profile ${profile.url})` } }));
}

// ---------------------------------------------------------------------------------------------
// Differential rules. @medplum/core 4.5.2 applies a profile's rules only down to the first
// BackboneElement (it then validates children with the base type), and only warns about reference
// targets. So the cardinalities and reference targets our differentials set are checked here too.

interface Node {
  value: unknown;
  path: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON key holding an element: `value[x]` matches `valueString`, `valueQuantity`... */
function keyOf(obj: Record<string, unknown>, name: string): string | undefined {
  if (!name.endsWith('[x]')) {
    return name in obj || `_${name}` in obj ? name : undefined;
  }
  const stem = name.slice(0, -3);
  return Object.keys(obj).find((k) => k.startsWith(stem) && /^[A-Z]/.test(k.slice(stem.length)));
}

function childNodes(node: Node, name: string): Node[] {
  const key = isObject(node.value) ? keyOf(node.value, name) : undefined;
  if (!key || !isObject(node.value)) {
    return [];
  }
  // A primitive may be present only through its extension (`_birthDate`).
  const value = node.value[key] ?? node.value[`_${key}`];
  if (Array.isArray(value)) {
    return value.map((v, i) => ({ value: v, path: `${node.path}.${key}[${i}]` }));
  }
  return value === undefined || value === null ? [] : [{ value, path: `${node.path}.${key}` }];
}

function nodesAt(resource: Resource, segments: string[]): Node[] {
  let nodes: Node[] = [{ value: resource, path: resource.resourceType }];
  for (const segment of segments) {
    nodes = nodes.flatMap((n) => childNodes(n, segment));
  }
  return nodes;
}

function cardinalityIssues(parent: Node, leaf: string, el: ElementDefinition): OperationOutcomeIssue[] {
  const count = childNodes(parent, leaf).length;
  const where = `${parent.path}.${leaf}`;
  if (el.min !== undefined && count < el.min) {
    return [issue(where, count === 0 ? 'Missing required property' : `Expected at least ${el.min} values`)];
  }
  if (el.max !== undefined && el.max !== '*' && count > Number(el.max)) {
    return [issue(where, `Expected at most ${el.max} values, but found ${count}`)];
  }
  return [];
}

const CONDITIONAL_REFERENCE = /^([A-Z][A-Za-z]+)\?/;
const LITERAL_REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/;

/** The resource type a Reference points at, when it can be told without resolving it. */
function referencedType(ref: Record<string, unknown>, resource: Resource): string | undefined {
  const literal = typeof ref.reference === 'string' ? ref.reference : undefined;
  if (literal === undefined) {
    return typeof ref.type === 'string' ? ref.type : undefined;
  }
  if (literal.startsWith('#')) {
    const contained = 'contained' in resource ? resource.contained : undefined;
    return contained?.find((c) => c.id === literal.slice(1))?.resourceType;
  }
  // Type/id, .../Type/id[/_history/v] or a conditional Type?params; urn:uuid: is resolved elsewhere.
  const match = CONDITIONAL_REFERENCE.exec(literal) ?? LITERAL_REFERENCE.exec(literal);
  return match?.[1];
}

/** Resource types allowed by an element's targetProfiles, or undefined when one is not known here. */
function allowedTargets(el: ElementDefinition): string[] | undefined {
  const targets = el.type?.find((t) => t.code === 'Reference')?.targetProfile;
  if (!targets?.length) {
    return undefined;
  }
  const types = targets.map((url) =>
    url.startsWith(HL7_SD_BASE) ? url.slice(HL7_SD_BASE.length) : profilesByUrl.get(url)?.type
  );
  return types.every((t): t is string => t !== undefined) ? types : undefined;
}

function referenceIssues(node: Node, allowed: string[], resource: Resource): OperationOutcomeIssue[] {
  const type = isObject(node.value) ? referencedType(node.value, resource) : undefined;
  if (type === undefined || allowed.includes(type) || allowed.includes('Resource')) {
    return [];
  }
  return [issue(node.path, `Invalid reference: got ${type}, expected ${allowed.join(' | ')}`)];
}

function differentialIssues(resource: Resource, profile: StructureDefinition): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const el of profile.differential?.element ?? []) {
    const segments = el.path.split('.').slice(1);
    const leaf = segments.pop();
    if (!leaf || el.sliceName || el.id?.includes(':')) {
      continue; // the root element, or slices (not used by our profiles)
    }
    const parents = nodesAt(resource, segments);
    parents.forEach((p) => issues.push(...cardinalityIssues(p, leaf, el)));
    const allowed = allowedTargets(el);
    if (allowed) {
      parents.flatMap((p) => childNodes(p, leaf)).forEach((n) => issues.push(...referenceIssues(n, allowed, resource)));
    }
  }
  return issues;
}

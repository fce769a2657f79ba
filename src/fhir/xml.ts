import { randomUUID } from 'node:crypto';
import { Fhir } from 'fhir/fhir.js';
import { ConvertToJs } from 'fhir/convertToJs.js';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from './outcomes.js';
import { FHIR_NS, readXmlTree, xmlRootOf, type XmlElement, type XmlTree } from './xml-tree.js';

/**
 * FHIR R4 JSON <-> XML, through the `fhir` package (Lantana's FHIR.js), which maps elements
 * with the R4 structure definitions it ships: element order, value attributes, `_field`
 * extensions and ids of primitives, xhtml narrative, contained and Bundle entry resources.
 * This module only feeds it a strictly parsed tree (xml-tree.ts) and checks what comes out.
 */

interface ParsedDefinition {
  readonly _name?: string;
  readonly _kind?: string;
  _type?: string;
  readonly _properties?: ParsedDefinition[];
}

const fhir = new Fhir();
const definitions = fhir.parser.parsedStructureDefinitions as unknown as Record<string, ParsedDefinition>;
treatUuidAsUri(Object.values(definitions));
const ELEMENT_NAMES = elementNames(Object.values(definitions));

/**
 * The converter's entry point below `xmlToJson`, taking an element tree and a marker that it
 * wraps decimals in. `xmlToJson` itself cannot be used: in 4.12.0 it throws on the `null` holes
 * of primitive extension arrays (`_given: [null, {...}]`).
 */
interface TreeConverter {
  resourceToJS(root: XmlElement, decimals: { str: string }): Record<string, unknown>;
}
const toJs = new ConvertToJs(fhir.parser) as unknown as TreeConverter;

/** A resource (or Bundle, OperationOutcome) as FHIR XML, with its XML declaration. */
export function resourceToXml(resource: Resource): string {
  // The converter leaves tabs raw in attribute values, where XML parsers turn them into spaces.
  return fhir.objToXml(resource).replace(/\t/g, '&#x9;');
}

/**
 * A FHIR XML document as the FHIR JSON object a JSON client would have sent. Throws FhirError
 * MALFORMED_BODY (400) on malformed XML, on a root that is not a FHIR resource, and on any
 * element the conversion would drop (unknown, misplaced or empty), naming it.
 */
export function xmlToResource(text: string): Resource {
  const tree = readXmlTree(text);
  const type = tree.root.name;
  if (definitions[type]?._kind !== 'resource' || type === 'Resource' || type === 'DomainResource') {
    throw new FhirError('MALFORMED_BODY', `The XML root element <${type}> is not a FHIR R4 resource type`);
  }
  const resource = convert(tree.root);
  expectNothingDropped(tree, resource);
  return resource;
}

/** True when an XML text is a FHIR resource of this type (root element and namespace), e.g. a Binary. */
export function isFhirResourceXml(text: string, type: string): boolean {
  const root = xmlRootOf(text);
  return root?.local === type && root.uri === FHIR_NS;
}

function convert(root: XmlElement): Resource {
  // Decimals come back wrapped in the marker as JSON strings; unwrapping them into JSON numbers
  // keeps their digits exactly as written until JSON.parse, as for a JSON body.
  const marker = { str: `D${randomUUID().replace(/-/g, '')}` };
  let json: string;
  try {
    json = JSON.stringify(toJs.resourceToJS(root, marker));
  } catch (err) {
    throw new FhirError('MALFORMED_BODY', `The XML is not a valid FHIR R4 ${root.name}: ${(err as Error).message}`);
  }
  return JSON.parse(json.replace(new RegExp(`"${marker.str}(-?[0-9.eE+]+)${marker.str}"`, 'g'), '$1')) as Resource;
}

/**
 * The converter skips what it does not know. Serialising its result back and comparing element
 * by element finds what it skipped, so that a typo is a 400 as it is in JSON, never lost data.
 */
function expectNothingDropped(tree: XmlTree, resource: Resource): void {
  const back = readXmlTree(resourceToXml(resource)).locations;
  const deficit = new Map<string, number>();
  for (const { key } of tree.locations) {
    deficit.set(key, (deficit.get(key) ?? 0) + 1);
  }
  for (const { key } of back) {
    deficit.set(key, (deficit.get(key) ?? 0) - 1);
  }
  const short = tree.locations.filter((l) => (deficit.get(l.key) ?? 0) > 0);
  if (short.length === 0) {
    return;
  }
  // The first element not found at its own place; when it holds an element of a name FHIR does
  // not have at all (a typo), that one is the culprit and its parent was only dropped as empty.
  const kept = new Set(back.map((l) => l.at));
  const first = short.find((l) => !kept.has(l.at)) ?? short[0];
  const typo = short.find((l) => (l === first || l.at.startsWith(`${first.at}.`)) && !ELEMENT_NAMES.has(lastName(l.key)));
  if (typo) {
    throw new FhirError('MALFORMED_BODY', `Element ${typo.at} is not a FHIR R4 element`, [typo.at]);
  }
  throw new FhirError('MALFORMED_BODY', `Element ${first.at} is not understood here: it is misplaced, or empty (no value attribute, no children)`, [first.at]);
}

function lastName(key: string): string {
  return key.slice(key.lastIndexOf('.') + 1);
}

/** Every element name of every R4 type, for telling a typo from a misplaced element. */
function elementNames(nodes: readonly ParsedDefinition[], into = new Set<string>()): Set<string> {
  for (const node of nodes) {
    if (node._name) {
      into.add(node._name);
    }
    elementNames(node._properties ?? [], into);
  }
  return into;
}

// `uuid` (R4 primitive) is missing from the converter's primitive list and would be written as an
// empty element; it has the same XML and JSON form as `uri`.
function treatUuidAsUri(nodes: readonly ParsedDefinition[]): void {
  for (const node of nodes) {
    if (node._type === 'uuid') {
      node._type = 'uri';
    }
    treatUuidAsUri(node._properties ?? []);
  }
}

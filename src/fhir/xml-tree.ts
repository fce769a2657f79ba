import { SaxesParser, type SaxesAttributeNS } from 'saxes';
import { FhirError } from './outcomes.js';

export const FHIR_NS = 'http://hl7.org/fhir';
const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/** An element of the tree, in the shape the `fhir` converter walks (xml-js's non-compact form). */
export interface XmlElement {
  readonly type: 'element';
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly elements: XmlNode[];
}

export type XmlNode = XmlElement | { readonly type: 'text'; readonly text: string };

/** Where a FHIR element stood: `key` without indices (compared), `at` with them (reported). */
export interface ElementLocation {
  readonly key: string;
  readonly at: string;
}

export interface XmlTree {
  readonly root: XmlElement;
  /** Every FHIR element in document order (the narrative `div` counts as one). */
  readonly locations: readonly ElementLocation[];
}

/** An opening tag as the namespace-aware parser reports it. */
interface Tag {
  readonly name: string;
  readonly local: string;
  readonly uri: string;
  readonly attributes: Record<string, SaxesAttributeNS>;
}

interface Open {
  readonly node: XmlElement;
  readonly path: string;
  readonly xhtml: boolean;
  readonly seen: Map<string, number>;
}

/** Deeper than any R4 resource goes (Questionnaire items, narrative tables included); bounds the work. */
export const MAX_XML_DEPTH = 100;

// Attributes FHIR XML gives meaning to; namespaced ones (xmlns, xsi:schemaLocation) are ignored.
const FHIR_ATTRIBUTES = new Set(['value', 'id', 'url']);

/**
 * Reads a FHIR XML document into an element tree with a strict, namespace-aware parser.
 * Throws FhirError MALFORMED_BODY (400) on XML that is not well-formed and on what FHIR XML
 * forbids (DTD, text outside the narrative, elements outside the FHIR namespace, unknown
 * attributes), naming the place. Comments and processing instructions are dropped.
 */
export function readXmlTree(text: string): XmlTree {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: Open[] = [];
  const locations: ElementLocation[] = [];
  let root: XmlElement | undefined;
  const fail = (message: string, at?: string): never => {
    throw new FhirError('MALFORMED_BODY', message, at ? [at] : undefined);
  };

  parser.on('error', (err) => {
    // saxes prefixes its messages with "line:column: ".
    const reason = err.message.replace(/^\d+:\d+: /, '');
    fail(`The body is not well-formed XML: ${reason} (line ${parser.line}, column ${parser.column})`);
  });
  parser.on('doctype', () => fail('FHIR XML does not allow a DOCTYPE declaration'));
  parser.on('opentag', (opened) => {
    if (stack.length >= MAX_XML_DEPTH) {
      fail(`The XML nests elements more than ${MAX_XML_DEPTH} deep`);
    }
    const tag = opened as unknown as Tag;
    const parent = stack[stack.length - 1];
    const open = parent ? openChild(parent, tag, fail) : openRoot(tag, fail);
    if (parent) {
      parent.node.elements.push(open.node);
    } else {
      root = open.node;
    }
    if (!parent?.xhtml) {
      locations.push({ key: open.path.replace(/\[\d+\]/g, ''), at: open.path });
    }
    stack.push(open);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const onText = (value: string): void => {
    const top = stack[stack.length - 1];
    if (top?.xhtml) {
      top.node.elements.push({ type: 'text', text: value });
    } else if (top && value.trim() !== '') {
      fail(`Element ${top.path} holds text: FHIR XML puts values in a "value" attribute`, top.path);
    }
  };
  parser.on('text', onText);
  parser.on('cdata', onText);

  parser.write(text.replace(/^\uFEFF/, '')).close();
  if (!root) {
    fail('The body holds no XML element');
  }
  return { root: root as XmlElement, locations };
}

function openRoot(tag: Tag, fail: (message: string, at?: string) => never): Open {
  if (tag.uri !== FHIR_NS) {
    fail(`The root element <${tag.name}> is not in the FHIR namespace: FHIR XML resources carry xmlns="${FHIR_NS}"`);
  }
  return { node: element(tag.local, fhirAttributes(tag, tag.local, fail)), path: tag.local, xhtml: false, seen: new Map() };
}

function openChild(parent: Open, tag: Tag, fail: (message: string, at?: string) => never): Open {
  if (parent.xhtml || (tag.local === 'div' && tag.uri === XHTML_NS)) {
    // The narrative stays XHTML; the converter re-serialises it, so attribute values go in escaped.
    const attributes = Object.fromEntries(Object.values(tag.attributes).map((a) => [a.name, escapeXml(a.value)]));
    return { node: element(parent.xhtml ? tag.name : 'div', attributes), path: `${parent.path}.div`, xhtml: true, seen: new Map() };
  }
  const index = parent.seen.get(tag.local) ?? 0;
  parent.seen.set(tag.local, index + 1);
  // A contained or entry resource (its element name is a type name) adds no step to the path.
  const path = /^[A-Z]/.test(tag.local) ? parent.path : `${parent.path}.${tag.local}[${index}]`;
  if (tag.uri !== FHIR_NS) {
    fail(`Element ${path} <${tag.name}> is not in the FHIR namespace ${FHIR_NS}`, path);
  }
  return { node: element(tag.local, fhirAttributes(tag, path, fail)), path, xhtml: false, seen: new Map() };
}

function fhirAttributes(tag: Tag, path: string, fail: (message: string, at?: string) => never): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const attribute of Object.values(tag.attributes)) {
    if (attribute.uri !== '' || attribute.name === 'xmlns') {
      continue;
    }
    if (!FHIR_ATTRIBUTES.has(attribute.local)) {
      fail(`Attribute "${attribute.name}" on ${path} is not FHIR XML (only value, id and url are)`, path);
    }
    attributes[attribute.local] = attribute.value;
  }
  return attributes;
}

function element(name: string, attributes: Record<string, string>): XmlElement {
  return { type: 'element', name, attributes, elements: [] };
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The root element of an XML text (local name and namespace), or undefined when it has none or is not XML. */
export function xmlRootOf(text: string): { local: string; uri: string } | undefined {
  const parser = new SaxesParser({ xmlns: true });
  let found: { local: string; uri: string } | undefined;
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('opentag', (opened) => {
    const { local, uri } = opened as unknown as Tag;
    found = { local, uri };
    throw found; // stop at the first element
  });
  try {
    parser.write(text.replace(/^\uFEFF/, '')).close();
  } catch {
    // a parse error or the stop above
  }
  return found;
}

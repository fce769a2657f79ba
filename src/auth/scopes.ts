/**
 * SMART App Launch 2 scopes (v2 `cruds`, v1 `read`/`write`/`*` normalised), pure and unit-tested.
 * The coarse gate: which resource types and interactions a token may touch. The DMP rules come on top.
 */

export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

const ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];

/** A clinical scope such as `patient/DocumentReference.rs?category=x`. */
export interface ClinicalScope {
  readonly context: ScopeContext;
  /** A resource type or `*`. */
  readonly resourceType: string;
  readonly permissions: ReadonlySet<Permission>;
  /** Granular constraints (`param=value`), ANDed; empty for a plain scope. */
  readonly params: readonly [string, string][];
  /** Written as SMART v1 (`.read`, `.write`, `.*`). */
  readonly v1: boolean;
  readonly text: string;
}

/** Non-clinical scopes the server understands. */
export const SPECIAL_SCOPES = ['openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'offline_access', 'online_access'] as const;
export type SpecialScope = (typeof SPECIAL_SCOPES)[number];

export interface ScopeSet {
  readonly clinical: readonly ClinicalScope[];
  readonly special: ReadonlySet<SpecialScope>;
  /** Scopes the server does not know (ignored, never granted). */
  readonly unknown: readonly string[];
}

const CLINICAL_RE = /^(patient|user|system)\/([A-Z][A-Za-z]+|\*)\.([a-z*]+)(?:\?(.+))?$/;

/** Reads one clinical scope; undefined if it is not a well-formed one (out-of-order letters included). */
export function parseClinicalScope(text: string): ClinicalScope | undefined {
  const m = CLINICAL_RE.exec(text);
  if (!m) {
    return undefined;
  }
  const [, context, resourceType, suffix, query] = m;
  const v1 = suffix === 'read' || suffix === 'write' || suffix === '*';
  const permissions = v1 ? v1Permissions(suffix) : v2Permissions(suffix);
  if (!permissions) {
    return undefined;
  }
  const params = query ? parseParams(query) : [];
  if (!params) {
    return undefined;
  }
  return { context: context as ScopeContext, resourceType, permissions, params, v1, text };
}

function v1Permissions(suffix: string): Set<Permission> {
  if (suffix === 'read') {
    return new Set(['r', 's']);
  }
  if (suffix === 'write') {
    return new Set(['c', 'u', 'd']);
  }
  return new Set(ORDER);
}

/** `cruds` letters, each at most once and in that order. */
function v2Permissions(suffix: string): Set<Permission> | undefined {
  let last = -1;
  const out = new Set<Permission>();
  for (const letter of suffix) {
    const at = ORDER.indexOf(letter as Permission);
    if (at <= last) {
      return undefined;
    }
    last = at;
    out.add(letter as Permission);
  }
  return out.size > 0 ? out : undefined;
}

function parseParams(query: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      return undefined;
    }
    const key = decodeURIComponent(part.slice(0, eq));
    // Chains and modifiers in scopes are experimental in SMART: refused here.
    if (key.includes('.') || key.includes(':')) {
      return undefined;
    }
    out.push([key, decodeURIComponent(part.slice(eq + 1))]);
  }
  return out;
}

/** Reads a space-separated scope string. */
export function parseScopes(scope: string | undefined): ScopeSet {
  const clinical: ClinicalScope[] = [];
  const special = new Set<SpecialScope>();
  const unknown: string[] = [];
  for (const text of (scope ?? '').split(/\s+/).filter(Boolean)) {
    const parsed = parseClinicalScope(text);
    if (parsed) {
      clinical.push(parsed);
    } else if ((SPECIAL_SCOPES as readonly string[]).includes(text)) {
      special.add(text as SpecialScope);
    } else {
      unknown.push(text);
    }
  }
  return { clinical, special, unknown };
}

/** Writes a clinical scope back, in v1 form when it was asked that way and still means the same. */
export function formatClinicalScope(scope: Omit<ClinicalScope, 'text'>): string {
  const letters = ORDER.filter((p) => scope.permissions.has(p)).join('');
  let suffix = letters;
  if (scope.v1) {
    suffix = letters === 'rs' ? 'read' : letters === 'cud' ? 'write' : letters === 'cruds' ? '*' : letters;
  }
  const query = scope.params.length ? '?' + scope.params.map(([k, v]) => `${k}=${v}`).join('&') : '';
  return `${scope.context}/${scope.resourceType}.${suffix}${query}`;
}

function sameParams(a: readonly [string, string][], b: readonly [string, string][]): boolean {
  return a.length === b.length && a.every(([k, v], i) => b[i][0] === k && b[i][1] === v);
}

/**
 * The parts of `wanted` that the ceilings allow (same context, type covered, constraints no looser).
 * A wildcard asked under typed ceilings narrows to those types (`patient/*.rs` ∩ `patient/Patient.rs`
 * = `patient/Patient.rs`), so the result may hold several scopes.
 */
function restrict(wanted: ClinicalScope, ceilings: readonly ClinicalScope[]): ClinicalScope[] {
  const byType = new Map<string, Set<Permission>>();
  for (const c of ceilings) {
    const typeOk = c.resourceType === '*' || wanted.resourceType === '*' || c.resourceType === wanted.resourceType;
    const paramsOk = c.params.length === 0 || sameParams(c.params, wanted.params);
    if (c.context === wanted.context && typeOk && paramsOk) {
      const type = wanted.resourceType === '*' ? c.resourceType : wanted.resourceType;
      const permissions = byType.get(type) ?? new Set<Permission>();
      c.permissions.forEach((p) => wanted.permissions.has(p) && permissions.add(p));
      byType.set(type, permissions);
    }
  }
  return [...byType]
    .filter(([, permissions]) => permissions.size > 0)
    .map(([resourceType, permissions]) => {
      const out = { ...wanted, resourceType, permissions };
      return { ...out, text: formatClinicalScope(out) };
    });
}

/**
 * Granted = requested ∩ each ceiling (the client's registered scope, what the user may have...).
 * Never widens: every granted scope is covered by every ceiling. Unknown scopes are dropped.
 */
export function intersectScopes(requested: string, ...ceilings: string[]): string {
  const want = parseScopes(requested);
  const limits = ceilings.map(parseScopes);
  const clinical = want.clinical.flatMap((scope) => limits.reduce<ClinicalScope[]>((acc, limit) => acc.flatMap((s) => restrict(s, limit.clinical)), [scope]));
  const special = [...want.special].filter((s) => limits.every((l) => l.special.has(s)));
  return [...new Set([...special, ...clinical.map((c) => c.text)])].join(' ');
}

/** What a FHIR interaction needs: a permission on a type, in some context. */
export interface ScopeCheck {
  readonly resourceType: string;
  readonly permission: Permission;
}

/** The clinical scopes of a token that grant this permission on this type (several are ORed). */
export function grantingScopes(scopes: readonly ClinicalScope[], check: ScopeCheck): ClinicalScope[] {
  return scopes.filter(
    (s) => (s.resourceType === '*' || s.resourceType === check.resourceType) && s.permissions.has(check.permission)
  );
}

/** A short scope that would grant the check, to name in a 403. */
export function missingScopeHint(context: ScopeContext, check: ScopeCheck): string {
  return `${context}/${check.resourceType}.${check.permission}`;
}

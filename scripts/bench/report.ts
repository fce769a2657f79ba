/** The printed comparison: every scenario against the bare Express baseline, plus machine facts. */
import os from 'node:os';
import type { Measurement } from './load.js';
import type { SeedResult } from './seed.js';

export interface RunFacts {
  readonly date: string;
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly database: string;
  /** Whether ANALYZE ran after seeding (planner statistics). */
  readonly analyzed: boolean;
  readonly durationSeconds: number;
  readonly connections: number;
  readonly workers: number;
  readonly seed: SeedResult;
}

export interface ScenarioReport extends Measurement {
  /** scenario rps / baseline rps */
  readonly rpsRatio: number;
  /** scenario p50 / baseline p50; null when the baseline p50 rounds to 0 ms (below autocannon's 1 ms resolution) */
  readonly p50Ratio: number | null;
  /** scenario mean latency / baseline mean latency */
  readonly meanRatio: number;
}

export interface BenchReport {
  readonly facts: RunFacts;
  readonly scenarios: readonly ScenarioReport[];
}

export function machineFacts(): Pick<RunFacts, 'date' | 'node' | 'cpus' | 'cpuModel'> {
  const cpus = os.cpus();
  return { date: new Date().toISOString(), node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown' };
}

/** Adds to every measurement its ratios to the baseline measurement. */
export function compareToBaseline(baseline: Measurement, measurements: readonly Measurement[]): ScenarioReport[] {
  return measurements.map((m) => ({
    ...m,
    rpsRatio: m.rps / baseline.rps,
    p50Ratio: baseline.p50Ms > 0 ? m.p50Ms / baseline.p50Ms : null,
    meanRatio: m.meanMs / baseline.meanMs,
  }));
}

const COLUMNS: readonly { title: string; cell: (r: ScenarioReport) => string }[] = [
  { title: 'scenario', cell: (r) => r.scenario },
  { title: 'req/s', cell: (r) => r.rps.toFixed(0) },
  { title: 'p50 ms', cell: (r) => String(r.p50Ms) },
  { title: 'p99 ms', cell: (r) => String(r.p99Ms) },
  { title: 'mean ms', cell: (r) => r.meanMs.toFixed(2) },
  { title: 'rps ratio', cell: (r) => r.rpsRatio.toFixed(3) },
  { title: 'p50 ratio', cell: (r) => (r.p50Ratio === null ? 'n/a' : r.p50Ratio.toFixed(1)) },
  { title: 'mean ratio', cell: (r) => r.meanRatio.toFixed(1) },
  { title: 'requests', cell: (r) => String(r.requests) },
  { title: 'unexpected', cell: (r) => String(r.unexpected) },
];

/** A plain-text table, first column left-aligned, numbers right-aligned. */
export function formatTable(rows: readonly ScenarioReport[]): string {
  const cells = [COLUMNS.map((c) => c.title), ...rows.map((r) => COLUMNS.map((c) => c.cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: string[]): string => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

export function formatFacts(f: RunFacts): string {
  return [
    `date        ${f.date}`,
    `node        ${f.node}`,
    `cpus        ${f.cpus} x ${f.cpuModel}`,
    `database    ${f.database}, ${f.analyzed ? 'ANALYZE run after seeding' : 'no ANALYZE after seeding (no planner statistics)'}`,
    `load        ${f.durationSeconds} s per scenario, ${f.connections} connections, ${f.workers === 0 ? 'load generator on the server thread' : `${f.workers} autocannon worker thread(s)`}`,
    `seed        ${f.seed.patients} patients, ${f.seed.documents} DocumentReferences in ${f.seed.seconds} s`,
  ].join('\n');
}

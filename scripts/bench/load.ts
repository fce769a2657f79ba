/** One scenario under load: a preflight request checked by hand, then autocannon for a fixed duration. */
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';

export interface Scenario {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly expectedStatus: number;
  readonly headers?: Record<string, string>;
  /** Body sent as is, except that every `[<id>]` becomes a fresh id per request (autocannon idReplacement). */
  readonly body?: string;
  /** Checks the preflight response body beyond its status; throws when it is not what the scenario needs. */
  readonly checkBody?: (body: unknown) => void;
}

export interface LoadOptions {
  readonly durationSeconds: number;
  readonly connections: number;
  readonly workers: number;
}

export interface Measurement {
  readonly scenario: string;
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Responses with another status than expected, plus socket errors and timeouts. */
  readonly unexpected: number;
  readonly statusCounts: Record<string, number>;
}

/** Share of unexpected responses above which the benchmark fails. */
export const MAX_ERROR_RATE = 0.01;

/** Sends one request like the load will, and fails loudly unless it gets the expected answer. */
export async function preflight(scenario: Scenario): Promise<void> {
  const res = await fetch(scenario.url, {
    method: scenario.method,
    headers: scenario.headers,
    body: scenario.body?.replaceAll('[<id>]', randomUUID()),
  });
  const text = await res.text();
  if (res.status !== scenario.expectedStatus) {
    throw new Error(`${scenario.name}: preflight got HTTP ${res.status}, expected ${scenario.expectedStatus}: ${text.slice(0, 500)}`);
  }
  scenario.checkBody?.(JSON.parse(text));
}

/** Runs the scenario for the configured duration and summarises what autocannon saw. */
export async function measure(scenario: Scenario, options: LoadOptions): Promise<Measurement> {
  const result = await autocannon({
    url: scenario.url,
    method: scenario.method,
    headers: scenario.headers,
    body: scenario.body,
    idReplacement: scenario.body?.includes('[<id>]') ?? false,
    duration: options.durationSeconds,
    connections: options.connections,
    ...(options.workers > 0 ? { workers: options.workers } : {}),
  });
  const statusCounts = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0])
  );
  const answered = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const unexpected = answered - (statusCounts[String(scenario.expectedStatus)] ?? 0) + result.errors;
  return {
    scenario: scenario.name,
    requests: answered + result.errors,
    rps: answered / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    meanMs: result.latency.mean,
    unexpected,
    statusCounts,
  };
}

/** Throws when more than MAX_ERROR_RATE of a scenario's requests went wrong. */
export function assertMostlySucceeded(m: Measurement): void {
  const rate = m.requests === 0 ? 1 : m.unexpected / m.requests;
  if (rate > MAX_ERROR_RATE) {
    throw new Error(
      `${m.scenario}: ${m.unexpected} of ${m.requests} requests (${(rate * 100).toFixed(2)} %) had an unexpected status or failed; statuses ${JSON.stringify(m.statusCounts)}`
    );
  }
}

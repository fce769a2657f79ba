import http from 'node:http';
import { getTestServer, systemToken } from './server.js';

/** A response read in full, with its raw bytes (for Binary) and lower-cased headers. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * A request to the test server with exactly the headers given (fetch() always adds `Accept: *\/*`,
 * so requests "without Accept" need node:http). `path` is relative to /fhir unless it starts with '/'.
 */
export async function rawRequest(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}
): Promise<RawResponse> {
  const { baseUrl } = await getTestServer();
  const headers = { ...(init.headers ?? {}) };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'authorization') && !path.startsWith('/')) {
    headers.authorization = `Bearer ${await systemToken()}`;
  }
  const url = new URL(path.startsWith('/') ? `${baseUrl}${path}` : `${baseUrl}/fhir/${path}`);
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

import pino, { type Logger } from 'pino';

/**
 * Paths never written to the logs: credentials, bodies and identity traits.
 * Request/response bodies are never passed to the logger in the first place; this list is the
 * safety net for anything that would slip through.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'access_token',
  'refresh_token',
  'body',
  'resource',
  'ins',
  'name',
  'birthDate',
];

/** Structured JSON logger; one child per request carries the request id. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'dmp-fhir-server' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination
  );
}

export type { Logger };

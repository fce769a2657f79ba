import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import type { SmartClient } from '../../src/auth/clients.js';

/**
 * Headless Chromium for the tests of the server's HTML pages (login, patient picker), driven by
 * playwright-core, plus a loopback "app" to land on and a way to register it as a SMART client.
 */

/** The system Chromium (Debian package `chromium`); playwright-core brings no browser of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags this machine needs (no sandbox as root, no GPU, no background traffic to Google). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Upper bound of the browser start and of its shutdown. */
const LAUNCH_TIMEOUT_MS = 30_000;
/** Upper bound of every action, navigation and wait of a page. */
export const STEP_TIMEOUT_MS = 10_000;

/** A headless Chromium with its own fresh profile, closed (and the profile removed) by `close`. */
export interface TestBrowser {
  readonly context: BrowserContext;
  /** A new tab; its console errors (CSP violations included) are collected in `consoleErrors`. */
  newPage(): Promise<{ page: Page; consoleErrors: string[] }>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium. Throws (so the suite FAILS, it does not skip) when Chromium is not
 * installed, saying how to install it.
 */
export async function launchChromium(): Promise<TestBrowser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing: the browser tests drive ${CHROMIUM_PATH}. Install it with ` +
        '`apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium` (.ci/run does it when it is missing).'
    );
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      timeout: LAUNCH_TIMEOUT_MS,
      viewport: { width: 1000, height: 800 },
      locale: 'fr-FR',
    });
  } catch (err) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    throw new Error(`Chromium (${CHROMIUM_PATH}) did not start: ${(err as Error).message}`);
  }
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      page.on('console', (msg: ConsoleMessage) => {
        if (msg.type() === 'error') {
          consoleErrors.push(msg.text());
        }
      });
      return { page, consoleErrors };
    },
    async close() {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          context.close(),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, LAUNCH_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        fs.rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

/** A loopback "app": its redirect URI answers with a small page and remembers every URL it got. */
export interface LoopbackApp {
  readonly redirectUri: string;
  /** Every request URL received, in order. */
  readonly received: URL[];
  close(): Promise<void>;
}

export async function startLoopbackApp(): Promise<LoopbackApp> {
  const received: URL[] = [];
  const server = http.createServer((req, res) => {
    received.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Application de test</title></head><body><h1>Application de test : retour reçu</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    redirectUri: `http://127.0.0.1:${port}/app/callback`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function writeClients(file: string, clients: readonly SmartClient[]): void {
  // Written aside then renamed: the server's registry (re-read on mtime change) never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(clients, null, 2));
  fs.renameSync(tmp, file);
}

/** Adds a client to a SMART clients file (the running server re-reads it); returns how to remove it. */
export function registerClient(file: string, client: SmartClient): () => void {
  const clients = JSON.parse(fs.readFileSync(file, 'utf8')) as SmartClient[];
  writeClients(file, [...clients.filter((c) => c.client_id !== client.client_id), client]);
  return () => {
    const now = JSON.parse(fs.readFileSync(file, 'utf8')) as SmartClient[];
    writeClients(file, now.filter((c) => c.client_id !== client.client_id));
  };
}

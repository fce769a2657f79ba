import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The real server (`node --import tsx src/server.ts`) running as a child process. */
export interface ChildServer {
  readonly process: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** Every stdout line so far (the JSON logs). */
  readonly stdout: string[];
  /** Every stderr line so far. */
  readonly stderr: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
}

/** A TCP port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function collectLines(stream: NodeJS.ReadableStream | null, into: string[]): void {
  let rest = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts.filter((l) => l.trim() !== ''));
  });
  stream?.on('end', () => {
    if (rest.trim() !== '') {
      into.push(rest);
    }
  });
}

/**
 * Spawns the server on a free loopback port with the given environment on top of a clean one
 * (DATABASE_URL removed, so it runs on embedded PGlite in DATA_DIR unless env sets it).
 */
export async function spawnServer(env: Record<string, string>): Promise<ChildServer> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', BASE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info', ...env };
  delete childEnv.DATABASE_URL;
  delete childEnv.NODE_OPTIONS;
  if (env.DATABASE_URL) {
    childEnv.DATABASE_URL = env.DATABASE_URL;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  collectLines(child.stdout, stdout);
  collectLines(child.stderr, stderr);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': by then stdout and stderr have been read to their end.
    child.once('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  return { process: child, port, baseUrl: `http://127.0.0.1:${port}`, stdout, stderr, exited, isRunning: () => running };
}

/** Resolves with the value of `check` once it is truthy; rejects after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until `GET /readyz` answers 200 (or fails early if the process dies). */
export async function waitUntilReady(child: ChildServer, timeoutMs: number): Promise<void> {
  await waitFor('the server to be ready', timeoutMs, async () => {
    if (!child.isRunning()) {
      throw new Error(`The server exited before being ready:\n${child.stderr.join('\n')}\n${child.stdout.join('\n')}`);
    }
    try {
      const res = await fetch(`${child.baseUrl}/readyz`);
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  });
}

/** Resolves with the process exit, or rejects after `timeoutMs`. */
export async function waitForExit(child: ChildServer, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`The server did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills the child if it is still running (test clean-up) and waits for it to go. */
export async function killServer(child: ChildServer | undefined): Promise<void> {
  if (!child || !child.isRunning()) {
    return;
  }
  child.process.kill('SIGKILL');
  await waitForExit(child, 10_000).catch(() => undefined);
}

/** Tries a TCP connection; resolves with the error code when it fails, undefined when it connects. */
export async function tryConnect(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

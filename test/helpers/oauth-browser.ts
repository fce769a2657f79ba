/**
 * A minimal browser for OAuth flows over plain HTTP: follows redirects by hand and carries cookies.
 * Cookies are host-only on 127.0.0.1 and, as in real browsers, not tied to a port, so the app, the
 * authorisation server and the upstream provider (each on its own loopback port) share the jar;
 * `Path` is honoured (the server's `dmp_auth` cookie lives on `/auth`).
 */
export interface Page {
  readonly url: URL;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
}

export class Browser {
  private readonly cookies = new Map<string, Cookie>();
  /** Every URL requested, in order (for assertions on the route a flow took). */
  readonly visited: URL[] = [];

  /** The cookies that would be sent to this URL (name → value). */
  cookiesFor(url: URL | string): Record<string, string> {
    const path = new URL(url).pathname;
    const out: Record<string, string> = {};
    for (const c of this.cookies.values()) {
      if (path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) {
        out[c.name] = c.value;
      }
    }
    return out;
  }

  /** One request, no redirect following; stores the cookies it sets. */
  async request(url: URL | string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page> {
    const target = new URL(url);
    this.visited.push(target);
    const headers: Record<string, string> = {};
    const cookie = Object.entries(this.cookiesFor(target))
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
    if (cookie) {
      headers.cookie = cookie;
    }
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(target, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.store(target, res.headers.getSetCookie());
    return { url: target, status: res.status, headers: res.headers, text: await res.text() };
  }

  /**
   * Requests a URL and follows redirects until a non-redirect answer, or until the next URL
   * satisfies `stopAt` (e.g. the app's redirect URI, which need not answer): then that URL is
   * returned unfetched with status 0.
   */
  async navigate(url: URL | string, stopAt: (url: URL) => boolean = () => false, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page> {
    let next = new URL(url);
    let options = init;
    for (let hops = 0; hops < 20; hops++) {
      if (stopAt(next)) {
        return { url: next, status: 0, headers: new Headers(), text: '' };
      }
      const page = await this.request(next, options);
      const location = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || !location) {
        return page;
      }
      next = new URL(location, next);
      options = {};
    }
    throw new Error(`too many redirects from ${String(url)}`);
  }

  private store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        if (k.toLowerCase() === 'path' && v.startsWith('/')) {
          path = v;
        }
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) {
          expired = true;
        }
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) {
          expired = true;
        }
      }
      const key = `${name};${path}`;
      if (expired) {
        this.cookies.delete(key);
      } else {
        this.cookies.set(key, { name, value, path });
      }
    }
  }
}

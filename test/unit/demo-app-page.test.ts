import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { demoAppRoutes, shellQuote, tokenExchangeCurl } from '../../src/http/routes/demo-app.js';

const BASE_URL = 'https://dmp.example.org';

describe('demo app landing page (GET /demo-app/callback)', () => {
  let server: http.Server;
  let origin: string;

  before(async () => {
    const app = express();
    app.use(demoAppRoutes({ baseUrl: BASE_URL }));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function get(query: string): Promise<{ status: number; body: string; headers: Headers }> {
    const res = await fetch(`${origin}/demo-app/callback${query}`);
    return { status: res.status, body: await res.text(), headers: res.headers };
  }

  /** The text of the element with this id (entities decoded), or undefined. */
  function textOf(body: string, id: string): string | undefined {
    const m = new RegExp(`<(\\w+)[^>]* id="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(body);
    return m?.[2].replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  }

  it('when the server sends a code and a state, then the page shows both', async () => {
    const res = await get('?code=abc123&state=xyz');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(textOf(res.body, 'code')).to.equal('abc123');
    expect(textOf(res.body, 'state')).to.equal('xyz');
  });

  it('when a code comes, then the page gives a curl command exchanging it at BASE_URL/auth/token with the demo app redirect URI and a VERIFIER variable', async () => {
    const res = await get('?code=abc123&state=xyz');
    const curl = textOf(res.body, 'curl') as string;
    expect(curl).to.equal(tokenExchangeCurl(BASE_URL, 'abc123'));
    expect(curl).to.contain(`'${BASE_URL}/auth/token'`);
    expect(curl).to.contain('grant_type=authorization_code');
    expect(curl).to.contain("'code=abc123'");
    expect(curl).to.contain(`'redirect_uri=${BASE_URL}/demo-app/callback'`);
    expect(curl).to.contain("'client_id=demo-app'");
    expect(curl).to.contain('"code_verifier=$VERIFIER"');
    expect(res.body).to.contain('code_verifier');
  });

  it('when the values carry HTML, then they are escaped, never markup', async () => {
    const res = await get(`?code=${encodeURIComponent('<script>alert(1)</script>')}&state=${encodeURIComponent('"><img src=x onerror=alert(1)>')}`);
    expect(res.body).to.not.contain('<script>');
    expect(res.body).to.not.contain('<img');
    expect(textOf(res.body, 'code')).to.equal('<script>alert(1)</script>');
    expect(textOf(res.body, 'state')).to.equal('"><img src=x onerror=alert(1)>');
  });

  it('when the server sends an error, then the page shows error, error_description and state', async () => {
    const res = await get('?error=access_denied&error_description=The+user+cancelled&state=s1');
    expect(res.status).to.equal(200);
    expect(textOf(res.body, 'error')).to.equal('access_denied');
    expect(textOf(res.body, 'error_description')).to.equal('The user cancelled');
    expect(textOf(res.body, 'state')).to.equal('s1');
    expect(textOf(res.body, 'curl')).to.equal(undefined);
  });

  it('when neither a code nor an error comes, then the page says so with 400', async () => {
    const res = await get('');
    expect(res.status).to.equal(400);
    expect(textOf(res.body, 'code')).to.equal(undefined);
  });

  it('when the page is served, then its CSP allows no script and exactly its inline stylesheet', async () => {
    const res = await get('?code=c');
    const csp = res.headers.get('content-security-policy') as string;
    expect(csp).to.contain("default-src 'none'");
    expect(csp).to.not.contain('script-src');
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)?.[1] as string;
    expect(csp).to.contain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(res.body).to.not.match(/<script/i);
    expect(res.headers.get('cache-control')).to.equal('no-store');
  });

  it('when a code holds shell metacharacters, then the quoted value reaches the shell as one literal word', () => {
    const nasty = `x'; touch /tmp/pwned; echo '$(id)\`id\``;
    expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(nasty)}`], { encoding: 'utf8' })).to.equal(nasty);
  });
});

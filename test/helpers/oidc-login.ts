import { expect } from 'chai';
import type { PendingUpstreamLogin, UpstreamOidc } from '../../src/auth/upstream.js';

/** The hidden request id and the form action of a demo identity provider login page. */
export function readLoginForm(html: string): { requestId: string; action: string } {
  const requestId = /name="request" value="([^"]+)"/.exec(html)?.[1];
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  expect(requestId, 'hidden request field').to.be.a('string');
  expect(action, 'form action').to.be.a('string');
  return { requestId: requestId as string, action: action as string };
}

/** Posts the login form like a browser (no redirect following); returns the response. */
export async function postLoginForm(action: string, fields: Record<string, string>): Promise<Response> {
  return fetch(action, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
}

/**
 * Drives a login at a demo identity provider as a browser would: the client's authorisation URL,
 * the login page, the chosen person posted, and the 302 back to the client's redirect URI, whose
 * URL is returned with what startLogin gave (state, nonce, PKCE verifier).
 */
export async function browserLogin(
  upstream: UpstreamOidc,
  userId: string,
  action: 'login' | 'cancel' = 'login'
): Promise<{ callback: URL; pending: PendingUpstreamLogin; authorizeUrl: string }> {
  const { url, ...pending } = await upstream.startLogin();
  const page = await fetch(url, { redirect: 'manual' });
  const html = await page.text();
  expect(page.status, html).to.equal(200);
  const form = readLoginForm(html);
  const posted = await postLoginForm(form.action, { request: form.requestId, user: userId, action });
  expect(posted.status, await posted.clone().text()).to.equal(302);
  return { callback: new URL(posted.headers.get('location') as string), pending, authorizeUrl: url };
}

import { createHash } from 'node:crypto';

/**
 * The one HTML toolkit of the server's own pages (demo identity provider login, patient picker,
 * authorisation error pages): an escaping template tag, the page shell and its stylesheet, and the
 * Content-Security-Policy that lets exactly that stylesheet apply.
 */

/** HTML that is already safe to emit (built by `html`, never from raw input). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Part = SafeHtml | string | number | undefined | null | false | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) {
    return '';
  }
  if (part instanceof SafeHtml) {
    return part.value;
  }
  if (Array.isArray(part)) {
    return part.map(render).join('');
  }
  return escapeHtml(String(part));
}

/** Template tag: every interpolated value is escaped unless it is SafeHtml (or a list of them). */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  return new SafeHtml(strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]) : ''), ''));
}

const STYLE = `
:root { color-scheme: light; --accent: #000091; --border: #c9c9d9; --muted: #4a4a5a; --error: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #161616; background: #f5f5fe; }
main { max-width: 44rem; margin: 2rem auto; padding: 2rem; background: #fff; border: 1px solid var(--border); border-radius: 8px; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
p.lead { color: var(--muted); margin: 0 0 1.5rem; }
.notice { padding: .75rem 1rem; border-left: 4px solid var(--accent); background: #ececfe; margin: 0 0 1.5rem; }
.error { padding: .75rem 1rem; border-left: 4px solid var(--error); background: #fdecea; margin: 0 0 1.5rem; }
fieldset { border: 1px solid var(--border); border-radius: 6px; margin: 0 0 1.5rem; padding: .5rem 1rem 1rem; }
legend { font-weight: 600; padding: 0 .5rem; }
ul { list-style: none; margin: 0; padding: 0; }
li { margin: .25rem 0; }
label { display: flex; gap: .75rem; align-items: flex-start; padding: .5rem; border-radius: 4px; cursor: pointer; }
label:hover { background: #f0f0fa; }
label.field { display: block; font-weight: 600; padding: 0 0 .25rem; cursor: default; }
label.field:hover { background: none; }
input[type=radio] { flex: none; margin-top: .3rem; width: 1.1rem; height: 1.1rem; accent-color: var(--accent); }
pre { overflow-x: auto; padding: .6rem; background: #f4f4f4; border-radius: 4px; }
code, pre { font-family: ui-monospace, monospace; font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; } dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
input[type=search] { flex: 1 1 16rem; min-width: 0; font: inherit; padding: .5rem .75rem; border: 1px solid var(--muted); border-radius: 4px; }
form.search { margin: 0 0 1.5rem; }
.search-row { display: flex; gap: .75rem; flex-wrap: wrap; }
.who { display: block; font-weight: 600; }
.what { display: block; color: var(--muted); font-size: .9rem; }
.actions { display: flex; gap: 1rem; flex-wrap: wrap; }
button { font: inherit; padding: .6rem 1.4rem; border-radius: 4px; border: 2px solid var(--accent); cursor: pointer; }
button.primary { background: var(--accent); color: #fff; }
button.secondary { background: #fff; color: var(--accent); }
:focus-visible { outline: 3px solid #0a76f6; outline-offset: 2px; }
`;

/**
 * Content-Security-Policy of these pages: nothing external, no script, only this stylesheet (by its
 * hash), no framing; forms may post anywhere (the login goes on to other origins by redirects).
 * Send it with every page built by `page` (it replaces the API's `default-src 'none'`, which would
 * block the stylesheet).
 */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'`;

/** A whole page in the shared shell (French, no external asset, the stylesheet inline). */
export function page(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** A page for an error that cannot go back to the application: a title and what happened. */
export function errorPage(title: string, message: string): string {
  return page(title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
<p class="lead">Revenez à l’application et recommencez la connexion.</p>`);
}

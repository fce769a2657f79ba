/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A minimal, self-contained HTML page (no external assets; the CSP forbids them anyway). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}
label{display:block;padding:.3rem 0}button{padding:.5rem 1.2rem;font-size:1rem}
.error{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecee}
input[type=search]{width:100%;padding:.4rem;font-size:1rem}
</style></head><body>
${body}
</body></html>`;
}

/** The error page shown when the app's redirect URI cannot be trusted (RFC 6749 §4.1.2.1). */
export function errorPage(title: string, detail: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p class="error" role="alert">${escapeHtml(detail)}</p>`);
}

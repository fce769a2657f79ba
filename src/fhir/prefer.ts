/** The parts of the Prefer header (RFC 7240) the server honours. */
export interface Preferences {
  readonly return?: 'minimal' | 'representation' | 'OperationOutcome';
  readonly handling?: 'strict' | 'lenient';
}

/** Reads `Prefer: return=..., handling=...`; unknown preferences are ignored, as RFC 7240 says. */
export function parsePrefer(header: string | undefined): Preferences {
  const out: { return?: Preferences['return']; handling?: Preferences['handling'] } = {};
  for (const part of (header ?? '').split(/[,;]/)) {
    const [k, v] = part.trim().split('=').map((s) => s?.trim().replace(/^"|"$/g, ''));
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) {
      out.return = v;
    } else if (k === 'handling' && (v === 'strict' || v === 'lenient')) {
      out.handling = v;
    }
  }
  return out;
}

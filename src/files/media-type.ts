/**
 * Rules for the media types a client declares and the types we serve: a declared type is taken only
 * when it is a well-formed `type/subtype`, and a served type is trusted to be inert only when it is
 * on an allow-list of passive types. Everything else gets the sandboxing Content-Security-Policy.
 */

/** RFC 6838 §4.2 restricted names, lower-cased; parameters (`; charset=…`) are not part of the type. */
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * The `type/subtype` of a declared Content-Type, or undefined when it is not one: `text/html,`,
 * `text/html x`, `text/html\n…`, an empty subtype and every other malformed form are refused
 * rather than repaired, so what is stored is exactly what was checked.
 */
export function wellFormedType(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  const semicolon = raw.indexOf(';');
  const type = (semicolon === -1 ? raw : raw.slice(0, semicolon)).trim().toLowerCase();
  return MEDIA_TYPE.test(type) ? type : undefined;
}

/** Types that browsers show or play but never run as a document on our origin. */
const PASSIVE_TYPES = new Set(['application/pdf', 'application/octet-stream', 'application/zip', 'application/gzip']);
const PASSIVE_FAMILIES = ['image/', 'audio/', 'video/', 'font/'];

/**
 * Whether a type may be served without the sandboxing CSP: raster images (not SVG, nor any `+xml`),
 * audio, video, fonts, PDF (a sandboxed PDF does not render in Chromium) and opaque downloads.
 * An allow-list: HTML, XML, XSL, scripts, text and any type we do not know are sandboxed.
 */
export function isPassiveType(type: string | null): boolean {
  const t = wellFormedType(type);
  if (!t || t.endsWith('+xml') || t.endsWith('/xml')) return false;
  return PASSIVE_TYPES.has(t) || PASSIVE_FAMILIES.some((family) => t.startsWith(family));
}

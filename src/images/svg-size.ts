import type { HeaderRead } from './dimensions';

/**
 * An SVG's declared size in pixels, as resvg sizes its canvas: the root element's `width` and
 * `height` (px, pt, pc, mm, cm, in, em at resvg's default 12 px font; a percentage or nothing means the
 * viewBox's), else its `viewBox`. Read from the root tag's text, so a thumbnail request is planned
 * (and a huge declared size refused) before the document is parsed.
 */
export function svgDimensions(head: Uint8Array): HeaderRead {
  // Markup starts with `<` (after a byte-order mark and white space); anything else is not looked at.
  const first = head.subarray(0, 256).findIndex((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf);
  if (first === -1 || head[first] !== 0x3c) return undefined;
  const tag = /^<svg(\s[^>]*)?>/i.exec(afterPrologue(new TextDecoder().decode(head.subarray(0, 64 * 1024))));
  if (!tag) return undefined;
  const attrs = new Map<string, string>();
  for (const m of (tag[1] ?? '').matchAll(/([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) attrs.set(m[1] as string, m[3] ?? m[4] ?? '');
  const size = declaredSize((name) => attrs.get(name) ?? null);
  return size ? { format: 'svg', ...size } : undefined;
}

/**
 * The markup from the root element on: an XML declaration, processing instructions (a stylesheet),
 * comments and a doctype (with an internal subset, refused later by ./svg-guard.ts) may precede it.
 */
export function afterPrologue(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/^\s*((<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(\[[\s\S]*?\])?\s*>)\s*)*/i, '');
}

/** CSS pixels per unit (96 dpi); `em` and `ex` at resvg's default font size. */
const UNITS: Record<string, number> = { '': 1, px: 1, pt: 4 / 3, pc: 16, mm: 96 / 25.4, cm: 96 / 2.54, in: 96, em: 12, ex: 6 };

/** The root element's size from its attributes, rounded up to whole pixels; undefined when it has none. */
export function declaredSize(attr: (name: string) => string | null): { width: number; height: number } | undefined {
  const box = (attr('viewBox') ?? '').trim().split(/[\s,]+/).map(Number);
  const viewBox = box.length === 4 && box.every(Number.isFinite) && (box[2] as number) > 0 && (box[3] as number) > 0 ? { width: box[2] as number, height: box[3] as number } : undefined;
  const width = length(attr('width')) ?? viewBox?.width;
  const height = length(attr('height')) ?? viewBox?.height;
  if (width === undefined || height === undefined || !(width > 0) || !(height > 0)) return undefined;
  // Only one side given, with a viewBox: the other follows its aspect, as resvg does.
  if (viewBox && length(attr('width')) === undefined && length(attr('height')) !== undefined) return whole((height * viewBox.width) / viewBox.height, height);
  if (viewBox && length(attr('height')) === undefined && length(attr('width')) !== undefined) return whole(width, (width * viewBox.height) / viewBox.width);
  return whole(width, height);
}

const whole = (width: number, height: number) => ({ width: Math.max(1, Math.ceil(width)), height: Math.max(1, Math.ceil(height)) });

/** A length in pixels; undefined for none, a percentage or something unreadable. */
function length(value: string | null): number | undefined {
  const m = /^\s*([+]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$/i.exec(value ?? '');
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) return undefined;
  const px = Number(m[1]) * unit;
  return Number.isFinite(px) ? px : undefined;
}

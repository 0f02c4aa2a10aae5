import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import { AppError } from '../errors/app-error';
import { readDimensions } from './dimensions';
import { declaredSize } from './svg-size';

/**
 * What an SVG will cost resvg, known before it renders anything, and the document it is given.
 * Everything here is bounded by the bytes: the text is capped before it is parsed, its tags before
 * a DOM is built, and every walk below is iterative (a deeply nested file cannot overflow a stack).
 */
export interface GuardedSvg {
  /** The document resvg renders: the source, or the source without its external references. */
  svg: string;
  width: number;
  height: number;
  /** Elements drawn once every `<use>`, pattern, marker and filter reference is expanded, weighted by their work. */
  work: number;
  /** The most layers (groups with opacity, filter, mask or clip; patterns, masks, markers) held at once. */
  layers: number;
  /** Decoded pixels of the raster images embedded as `data:` URIs. */
  embeddedPixels: number;
}

/** The largest SVG source read: a DOM costs ~100 times its markup. */
export const SVG_MAX_BYTES = 2 * 1024 * 1024;
/** `<` characters (tags, comments) in the source: a bound on the nodes parsed, checked before parsing. */
export const SVG_MAX_TAGS = 40_000;
/** Element nesting, through references too: resvg converts and renders recursively. */
export const SVG_MAX_DEPTH = 128;
/** Weighted elements drawn, whatever the canvas: parsing and tessellating them costs on its own. */
export const SVG_MAX_WORK = 200_000;
/**
 * Path and polygon segments drawn (references expanded). Stroking costs resvg ~6 µs a segment before
 * any pixel, plus ~0.7 µs a segment per pixel of canvas side it spans (measured: 150,000 stroked
 * segments spanning the canvas take 1.9 s at 12 px, 4.1 s at 40 px, 22 s at 200 px).
 */
export const SVG_MAX_SEGMENTS = 60_000;

const refuse = (message: string) => new AppError('UNPROCESSABLE_IMAGE', message);

const LAYERED_ELEMENTS = new Set(['pattern', 'mask', 'clipPath', 'marker', 'filter']);
const LAYER_PROPERTIES = /(^|;)\s*(opacity|filter|mask|clip-path)\s*:/;
const GEOMETRY_ATTRIBUTES = ['d', 'points'];
const NUMBER = /[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/gi;

/**
 * Refuses (422) what could not be rendered within bounds, and drops what would reach outside:
 * - a DOCTYPE with an internal subset or any ENTITY declaration (billion laughs, external entities);
 * - more than SVG_MAX_BYTES, SVG_MAX_TAGS, SVG_MAX_DEPTH, SVG_MAX_WORK or SVG_MAX_SEGMENTS, a reference cycle;
 * - every `href` that is not a fragment (`#id`) or an embedded raster image (`data:image/png|jpeg|gif|webp`)
 *   is removed, so are external `url(…)`s, `@import`s and processing instructions (a stylesheet):
 *   resvg-wasm has no network or file system, and the document it gets names none either.
 */
export function guardSvg(bytes: Uint8Array): GuardedSvg {
  if (bytes.byteLength > SVG_MAX_BYTES) throw refuse(`The SVG file is ${bytes.byteLength} bytes; SVG sources of at most ${SVG_MAX_BYTES} bytes are rendered.`);
  const text = new TextDecoder().decode(bytes);
  if (/<!ENTITY/i.test(text) || /<!DOCTYPE[^>[]*\[/i.test(text)) {
    throw refuse('The SVG declares entities (a DOCTYPE with an internal subset); such SVG sources are not rendered. Remove the DOCTYPE.');
  }
  let tags = 0;
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    if (++tags > SVG_MAX_TAGS) throw refuse(`The SVG has more than ${SVG_MAX_TAGS} tags; SVG sources of at most ${SVG_MAX_TAGS} are rendered.`);
  }
  let doc;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(text, 'image/svg+xml');
  } catch (error) {
    throw new AppError('UNPROCESSABLE_IMAGE', 'The SVG file is not well-formed XML.', { cause: error });
  }
  const root = doc.documentElement;
  if (!root || root.localName !== 'svg') throw refuse('The file is not an SVG document (its root element is not <svg>).');
  const size = declaredSize((name) => root.getAttribute(name));
  if (!size) throw refuse('The SVG has no size: give its root element width and height, or a viewBox.');

  const ids = new Map<string, Element>();
  let removed = false;
  let embeddedPixels = 0;
  // A stylesheet processing instruction names a file; resvg ignores it, and it is dropped all the same.
  for (let n = doc.firstChild; n; ) {
    const next = n.nextSibling;
    if (n.nodeType === 7) {
      doc.removeChild(n);
      removed = true;
    }
    n = next;
  }
  for (const el of descendants(root)) {
    const id = el.getAttribute('id');
    if (id && !ids.has(id)) ids.set(id, el);
    removed = dropExternalUrls(el) || removed;
    for (const name of ['href', 'xlink:href']) {
      const href = el.getAttribute(name)?.trim();
      if (href === undefined || href === null || href.startsWith('#')) continue;
      const pixels = el.localName === 'image' ? embeddedImagePixels(href) : undefined;
      if (pixels === undefined) {
        el.removeAttribute(name);
        removed = true;
      } else embeddedPixels += pixels;
    }
  }
  const { work, layers } = expandedCost(root, ids);
  return { svg: removed ? new XMLSerializer().serializeToString(doc) : text, ...size, work, layers, embeddedPixels };
}

/** `url(…)` that is not a fragment (`#id`), quoted or not, as CSS and presentation attributes write it. */
const EXTERNAL_URL = /url\(\s*(?!['"]?#)[^)]*\)/gi;

/**
 * Replaces every external `url(…)` in `el`'s attributes (fill, filter, style…) and, for a `<style>`,
 * in its text (`@import`, `@font-face` sources) with `none`. True when something was replaced.
 */
function dropExternalUrls(el: Element): boolean {
  let changed = false;
  for (let i = 0; i < el.attributes.length; i++) {
    const attr = el.attributes.item(i);
    if (attr && EXTERNAL_URL.test(attr.value)) {
      el.setAttribute(attr.name, attr.value.replace(EXTERNAL_URL, 'none'));
      changed = true;
    }
    EXTERNAL_URL.lastIndex = 0;
  }
  if (el.localName === 'style') {
    for (let c = el.firstChild; c; c = c.nextSibling) {
      const value = c.nodeValue ?? '';
      if ((c.nodeType === 3 || c.nodeType === 4) && /url\(|@import/i.test(value)) {
        c.nodeValue = value.replace(/@import[^;]*;?/gi, '').replace(EXTERNAL_URL, 'none');
        if ('data' in c) (c as { data: string }).data = c.nodeValue;
        changed = true;
      }
    }
  }
  return changed;
}

/** Every element under (and with) `root`, in document order, refusing past SVG_MAX_DEPTH. */
function* descendants(root: Element): Generator<Element> {
  const stack: { el: Element; depth: number }[] = [{ el: root, depth: 1 }];
  while (stack.length > 0) {
    const { el, depth } = stack.pop() as { el: Element; depth: number };
    if (depth > SVG_MAX_DEPTH) throw refuse(`The SVG nests elements more than ${SVG_MAX_DEPTH} deep; SVG sources nesting at most ${SVG_MAX_DEPTH} are rendered.`);
    yield el;
    for (let c = el.lastChild; c; c = c.previousSibling) if (c.nodeType === 1) stack.push({ el: c as Element, depth: depth + 1 });
  }
}

/**
 * A `data:` URI of a raster image resvg decodes (PNG, JPEG, GIF, WebP): its pixels, from its header.
 * Undefined for anything else (an external URL, a nested SVG, an unreadable image), which is dropped.
 */
function embeddedImagePixels(href: string): number | undefined {
  const m = /^data:image\/(png|jpeg|jpg|gif|webp)\s*;\s*base64\s*,/i.exec(href);
  if (!m) return undefined;
  const b64 = href.slice(m[0].length, m[0].length + 64 * 1024).replace(/\s+/g, '');
  let head: Uint8Array;
  try {
    head = Uint8Array.from(atob(b64.slice(0, b64.length - (b64.length % 4))), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
  const dims = readDimensions(head);
  return dims && 'width' in dims && dims.format !== 'svg' ? dims.width * dims.height : undefined;
}

/**
 * The weighted elements drawn once references are expanded (a `<use>` draws its target again, a
 * marker once per vertex), and the deepest stack of layers, by an iterative post-order walk over the
 * element tree and its references. A cycle is refused; so is a total past SVG_MAX_WORK, as soon as it
 * is reached (a `<use>` bomb doubles at each level: 2^30 is never counted one by one).
 */
function expandedCost(root: Element, ids: Map<string, Element>): Cost {
  const done = new Map<Element, Cost>();
  const open = new Set<Element>();
  const edges = new Map<Element, { target: Element; times: number }[]>();
  const edgesOf = (el: Element) => {
    let list = edges.get(el);
    if (!list) {
      list = references(el, ids);
      for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) list.push({ target: c as Element, times: 1 });
      edges.set(el, list);
    }
    return list;
  };
  const stack: Element[] = [root];
  let depth = 0;
  while (stack.length > 0) {
    const el = stack[stack.length - 1] as Element;
    if (done.has(el)) {
      stack.pop();
      continue;
    }
    const pending = edgesOf(el).filter((e) => !done.has(e.target));
    if (!open.has(el)) {
      open.add(el);
      depth = Math.max(depth, open.size);
      if (open.size > SVG_MAX_DEPTH) throw refuse(`The SVG's references nest more than ${SVG_MAX_DEPTH} deep; SVG sources nesting at most ${SVG_MAX_DEPTH} are rendered.`);
      for (const e of pending) {
        if (open.has(e.target)) throw refuse(`The SVG's element "${e.target.getAttribute('id') ?? e.target.localName}" refers to itself (a reference cycle); it is not rendered.`);
      }
      stack.push(...pending.map((e) => e.target));
      continue;
    }
    // Every target is done now (a target still open would be a cycle, refused above).
    let work = weight(el);
    let layers = 0;
    let segments = Math.ceil(geometryNumbers(el) / 2);
    for (const e of edgesOf(el)) {
      const cost = done.get(e.target) as Cost;
      work += cost.work * e.times;
      segments += cost.segments * e.times;
      layers = Math.max(layers, cost.layers);
      if (work > SVG_MAX_WORK) throw refuse(`The SVG draws more than ${SVG_MAX_WORK} weighted elements once its references (use, patterns, markers) are expanded; SVG sources drawing at most ${SVG_MAX_WORK} are rendered.`);
    }
    if (segments > SVG_MAX_SEGMENTS) throw refuse(`The SVG draws more than ${SVG_MAX_SEGMENTS} path segments once its references are expanded; SVG sources drawing at most ${SVG_MAX_SEGMENTS} are rendered.`);
    done.set(el, { work, layers: layers + (isLayer(el) ? 1 : 0), segments });
    open.delete(el);
    stack.pop();
  }
  return done.get(root) as Cost;
}

interface Cost {
  work: number;
  layers: number;
  segments: number;
}

/** The elements `el` draws again by reference: `href="#id"` and every `url(#id)` in its attributes. */
function references(el: Element, ids: Map<string, Element>): { target: Element; times: number }[] {
  const out: { target: Element; times: number }[] = [];
  const vertices = Math.max(1, Math.ceil(geometryNumbers(el) / 2));
  for (let i = 0; i < el.attributes.length; i++) {
    const attr = el.attributes.item(i);
    if (!attr) continue;
    const value = attr.value;
    if ((attr.name === 'href' || attr.name === 'xlink:href') && value.trim().startsWith('#')) {
      const target = ids.get(value.trim().slice(1));
      if (target) out.push({ target, times: 1 });
      continue;
    }
    for (const m of value.matchAll(/url\(\s*['"]?#([^)'"\s]+)['"]?\s*\)/g)) {
      const target = ids.get(m[1] as string);
      // A marker is drawn at every vertex of the shape that names it.
      if (target) out.push({ target, times: target.localName === 'marker' ? vertices : 1 });
    }
  }
  return out;
}

/** What drawing an element itself costs: 1, more for long geometry, text, and costly filter primitives. */
function weight(el: Element): number {
  let w = 1 + Math.floor(geometryNumbers(el) / 16);
  if (el.localName === 'text' || el.localName === 'tspan') w += Math.floor((el.textContent?.length ?? 0) / 16);
  const num = (name: string) => (el.getAttribute(name) ?? '').match(NUMBER)?.map(Number) ?? [];
  if (el.localName === 'feMorphology') {
    const [rx = 0, ry = rx] = num('radius');
    w += Math.ceil(((2 * Math.abs(rx) + 1) * (2 * Math.abs(ry) + 1)) / 9);
  } else if (el.localName === 'feConvolveMatrix') {
    const [ox = 3, oy = ox] = num('order');
    w += Math.ceil((Math.abs(ox) * Math.abs(oy)) / 9);
  } else if (el.localName === 'feTurbulence') {
    w += 4 * Math.max(1, num('numOctaves')[0] ?? 1);
  } else if (el.localName?.startsWith('fe')) w += 3;
  return Number.isFinite(w) ? w : SVG_MAX_WORK + 1;
}

function geometryNumbers(el: Element): number {
  let n = 0;
  for (const name of GEOMETRY_ATTRIBUTES) n += el.getAttribute(name)?.match(NUMBER)?.length ?? 0;
  return n;
}

function isLayer(el: Element): boolean {
  if (LAYERED_ELEMENTS.has(el.localName ?? '')) return true;
  const opacity = el.getAttribute('opacity');
  if (opacity !== null && opacity.trim() !== '1') return true;
  if (el.hasAttribute('filter') || el.hasAttribute('mask') || el.hasAttribute('clip-path')) return true;
  return LAYER_PROPERTIES.test(el.getAttribute('style') ?? '');
}

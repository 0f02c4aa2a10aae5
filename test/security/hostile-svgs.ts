/**
 * Hostile SVG documents, for the Node reference suite, the decoder fuzz harness and the workerd tests:
 * each would cost resvg (or an XML parser) far more than its bytes if it were not refused first.
 */
const NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';
const bytes = (text: string) => new TextEncoder().encode(text);

/** Ten levels of ten entities each: 10^10 "lol"s once expanded. */
export function billionLaughs(): Uint8Array {
  const entities = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 10; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return bytes(`<?xml version="1.0"?>\n<!DOCTYPE svg [\n${entities.join('\n')}\n]>\n<svg ${NS} width="100" height="100"><text y="20">&lol10;</text></svg>`);
}

/** An external entity (XXE): a parser that resolves it fetches `url`. */
export function externalEntity(url: string): Uint8Array {
  return bytes(`<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY xxe SYSTEM "${url}">]>\n<svg ${NS} width="100" height="100"><text y="20">&xxe;</text></svg>`);
}

/** A tiny file that declares a width × height canvas. */
export function declaredSize(width: number, height: number): Uint8Array {
  return bytes(`<svg ${NS} width="${width}" height="${height}"><rect width="100%" height="100%" fill="red"/></svg>`);
}

/** `levels` levels of groups, each drawing the one below `fanout` times: fanout^levels elements. */
export function useBomb(levels = 12, fanout = 10): Uint8Array {
  const defs = ['<rect id="l0" width="1" height="1"/>'];
  for (let i = 1; i <= levels; i++) defs.push(`<g id="l${i}">${`<use href="#l${i - 1}"/>`.repeat(fanout)}</g>`);
  return bytes(`<svg ${NS} width="100" height="100"><defs>${defs.join('')}</defs><use href="#l${levels}"/></svg>`);
}

/** `depth` nested groups (each with opacity, so each would be a layer of the canvas's size). */
export function deepNesting(depth = 10_000): Uint8Array {
  return bytes(`<svg ${NS} width="100" height="100">${'<g opacity="0.9">'.repeat(depth)}<rect width="10" height="10"/>${'</g>'.repeat(depth)}</svg>`);
}

/** One path of `segments` line segments zig-zagging over the whole canvas. */
export function hugePath(segments = 150_000): Uint8Array {
  const d = ['M0 0'];
  for (let i = 0; i < segments; i++) d.push(i % 2 ? `L${i % 1000} 0` : `L${i % 1000} 1000`);
  return bytes(`<svg ${NS} width="1000" height="1000"><path d="${d.join(' ')}" stroke="black" fill="none"/></svg>`);
}

/** Two elements that draw each other. */
export function useCycle(): Uint8Array {
  return bytes(`<svg ${NS} width="100" height="100"><g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g></svg>`);
}

/**
 * Every way an SVG can name something outside itself — an image, a `<use>` of another file, a
 * stylesheet (`@import`, `<?xml-stylesheet?>`), a font, a filter's image, a file path — all at `base`,
 * over a drawing that must still render: a blue square.
 */
export function externalReferences(base: string): Uint8Array {
  return bytes(`<?xml version="1.0"?>
<?xml-stylesheet href="${base}/sheet.css" type="text/css"?>
<svg ${NS} width="100" height="100">
  <style>@import url("${base}/import.css"); @font-face { font-family: X; src: url("${base}/font.ttf"); } text { font-family: X; }</style>
  <defs><filter id="f"><feImage href="${base}/filter.png"/></filter></defs>
  <rect width="100" height="100" fill="#2040e0"/>
  <image href="${base}/image.png" width="50" height="50"/>
  <image xlink:href="${base}/xlink.png" x="50" width="50" height="50"/>
  <image href="file:///etc/passwd" width="10" height="10"/>
  <use href="${base}/sprite.svg#icon"/>
  <rect width="10" height="10" fill="url(${base}/paint.svg#p)" filter="url(#f)"/>
  <text x="10" y="90">text</text>
</svg>`);
}

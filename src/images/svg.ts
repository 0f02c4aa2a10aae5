import { crop, PhotonImage } from '@cf-wasm/photon';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import resvgWasm from '@resvg/resvg-wasm/index_bg.wasm';
import { AppError } from '../errors/app-error';
import type { Dimensions } from './dimensions';
import type { StreamedSource } from './pipeline';
import { guardSvg } from './svg-guard';

/** The largest size an SVG may declare, in pixels (as PNG sources, and Cloudflare Images' limit). */
export const SVG_MAX_DECLARED_PIXELS = 100_000_000;
/**
 * What an output pixel costs while an SVG is rendered: resvg's canvas (4 bytes), its copy out of
 * WebAssembly, photon's image and the rest of the pipeline (as a decoded pixel, 24), and 4 bytes for
 * each layer resvg holds at once (a group with opacity, a mask, a pattern's tile: at most canvas-sized).
 */
const BYTES_PER_PIXEL = 24;
const LAYER_BYTES_PER_PIXEL = 4;
/**
 * Drawing work, as weighted elements × canvas pixels: each element is filled over at most the whole
 * canvas. Measured (`npm run bench`, svg case): 100 full-canvas rectangles at 4 MP take ~0.5 s in resvg.
 */
const MAX_WORK_PASSES = 200;

const refuse = (message: string) => new AppError('UNPROCESSABLE_IMAGE', message);

let ready: Promise<void> | undefined;

/**
 * An SVG rendered by resvg (`@resvg/resvg-wasm`) straight at the target size (vector: no decode then
 * resize), then the kept region cut out. Before anything is rendered: the declared size, the
 * document (entities, size, depth, references: ./svg-guard.ts), the memory its canvas and layers take,
 * and its drawing work are bounded, each refusal a 422 naming the numbers. Text is not rendered: no
 * font is bundled (resvg-wasm has no system fonts). Nothing is fetched: external references are
 * dropped, and resvg-wasm has no network or file system.
 */
export async function renderSvg(
  source: Uint8Array | StreamedSource,
  header: Dimensions,
  target: { width: number; height: number },
  kept: { left: number; top: number; width: number; height: number },
  maxPixels: number,
): Promise<PhotonImage> {
  if (!(source instanceof Uint8Array)) throw new Error('an SVG is rendered from its bytes');
  if (header.width * header.height > SVG_MAX_DECLARED_PIXELS) {
    throw refuse(`The SVG declares a ${header.width}×${header.height} size; SVG sources may declare at most ${SVG_MAX_DECLARED_PIXELS} pixels.`);
  }
  const guarded = guardSvg(source);
  if (guarded.width !== header.width || guarded.height !== header.height) {
    throw refuse(`The SVG's root element declares ${guarded.width}×${guarded.height}, but its first bytes read as ${header.width}×${header.height}; it is not rendered.`);
  }
  const canvas = target.width * target.height;
  const bytes = canvas * (BYTES_PER_PIXEL + LAYER_BYTES_PER_PIXEL * guarded.layers) + 4 * guarded.embeddedPixels;
  if (bytes > maxPixels * BYTES_PER_PIXEL) {
    throw refuse(
      `Rendering this SVG at ${target.width}×${target.height} would hold ${bytes} bytes (${guarded.layers} layers at once, ${guarded.embeddedPixels} embedded image pixels); transforms hold at most ${maxPixels * BYTES_PER_PIXEL} (${BYTES_PER_PIXEL} bytes × ASSETS_TRANSFORM_MAX_PIXELS). Ask for a smaller size.`,
    );
  }
  if (guarded.work * canvas > maxPixels * MAX_WORK_PASSES) {
    throw refuse(
      `This SVG draws ${guarded.work} weighted elements; at ${target.width}×${target.height} that is more than ${MAX_WORK_PASSES} passes over ${maxPixels} pixels (ASSETS_TRANSFORM_MAX_PIXELS). Ask for a smaller size (at most ${Math.floor((maxPixels * MAX_WORK_PASSES) / guarded.work)} pixels).`,
    );
  }
  ready ??= initWasm(resvgWasm);
  await ready;
  const pixels = rasterize(guarded.svg, target);
  const img = new PhotonImage(pixels.data, pixels.width, pixels.height);
  if (kept.width === pixels.width && kept.height === pixels.height) return img;
  try {
    const right = Math.min(pixels.width, kept.left + kept.width);
    const bottom = Math.min(pixels.height, kept.top + kept.height);
    return crop(img, Math.min(kept.left, right - 1), Math.min(kept.top, bottom - 1), right, bottom);
  } finally {
    img.free();
  }
}

/**
 * resvg fits the canvas to one side; the side whose fit covers the target is chosen, so the pipeline
 * only ever trims a rounding pixel. Its pixels are premultiplied (tiny-skia's; seen: 50% of
 * rgb(200,100,50) came back as 100,50,25,128): they are made straight, as photon and the encoders take them.
 */
function rasterize(svg: string, target: { width: number; height: number }): { width: number; height: number; data: Uint8Array } {
  let resvg: InstanceType<typeof Resvg> | undefined;
  let rendered: ReturnType<InstanceType<typeof Resvg>['render']> | undefined;
  try {
    resvg = new Resvg(svg, { fitTo: { mode: 'width', value: target.width }, font: { loadSystemFonts: false }, imageRendering: 0, shapeRendering: 2 });
    if (Math.round((resvg.height * target.width) / resvg.width) < target.height) {
      resvg.free();
      resvg = new Resvg(svg, { fitTo: { mode: 'height', value: target.height }, font: { loadSystemFonts: false }, imageRendering: 0, shapeRendering: 2 });
    }
    rendered = resvg.render();
    const data = rendered.pixels;
    for (let i = 3; i < data.length; i += 4) {
      const a = data[i] as number;
      if (a === 0 || a === 255) continue;
      for (let c = i - 3; c < i; c++) data[c] = Math.min(255, Math.round(((data[c] as number) * 255) / a));
    }
    return { width: rendered.width, height: rendered.height, data };
  } catch (error) {
    throw new AppError('UNPROCESSABLE_IMAGE', `The SVG file could not be rendered: ${(error as Error).message}`, { cause: error });
  } finally {
    rendered?.free();
    resvg?.free();
  }
}

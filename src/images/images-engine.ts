import { type Dimensions, readDimensions } from './dimensions';
import type { Rendered, StreamedSource } from './pipeline';
import { CONTENT_TYPES, type Transform } from './transform';

/**
 * ASSETS_TRANSFORM_ENGINE=images: a transform made by Cloudflare Images through the `IMAGES` binding
 * (`input(stream).transform(…).output(…)`), with the same parameters as the WASM engine. Images
 * takes larger sources than the isolate can hold and encodes AVIF natively (fast at any size).
 *
 * Only what the binding does the way this service means it goes there: geometry (flip and flop, then
 * the rotation, as sharp orders them), `cover` around the focal point (a gravity point), `contain`
 * and `inside` (with or without enlargement), grayscale (saturation 0), every output format and
 * quality. Anything else (`outside`, blur, sharpen, negate, tint, modulate) is undefined here and
 * made by the WASM engine. The binding applies the EXIF orientation itself, as the WASM engine does.
 */
export function imagesTransforms(t: Transform, header: Dimensions, orientation: number): ImageTransform[] | undefined {
  // Images neither reads nor writes TIFF.
  if (t.format === 'tiff' || header.format === 'tiff') return undefined;
  if (t.fit === 'outside' && t.width !== undefined && t.height !== undefined) return undefined;
  if (t.operations.some((o) => o.op !== 'rotate' && o.op !== 'flip' && o.op !== 'flop' && o.op !== 'grayscale')) return undefined;
  const steps: ImageTransform[] = [];
  const flip = t.operations.some((o) => o.op === 'flip');
  const flop = t.operations.some((o) => o.op === 'flop');
  if (flip || flop) steps.push({ flip: flip && flop ? 'hv' : flip ? 'v' : 'h' });
  const rotation = t.operations.findLast((o) => o.op === 'rotate');
  const turns = rotation?.op === 'rotate' ? rotation.quarterTurns : 0;
  if (turns) steps.push({ rotate: (turns * 90) as 90 | 180 | 270 });
  // The displayed size (EXIF, then the request's geometry) for the focal point's fraction.
  const shown = orientation >= 5 && orientation <= 8 ? { width: header.height, height: header.width } : header;
  const resize: ImageTransform = {};
  if (t.width !== undefined) resize.width = t.width;
  if (t.height !== undefined) resize.height = t.height;
  if (t.width !== undefined || t.height !== undefined) {
    if (t.fit === 'cover' && t.width !== undefined && t.height !== undefined) {
      resize.fit = t.withoutEnlargement ? 'crop' : 'cover';
      resize.gravity = t.focalPointX !== undefined && t.focalPointY !== undefined ? { x: t.focalPointX / shown.width, y: t.focalPointY / shown.height, mode: 'box-center' } : 'center';
    } else {
      resize.fit = t.withoutEnlargement ? 'scale-down' : 'contain';
    }
    steps.push(resize);
  }
  if (t.operations.some((o) => o.op === 'grayscale')) steps.push({ saturation: 0 });
  return steps;
}

/**
 * Runs the transform through the binding. An answer that is not an image of the format asked for is
 * an error (and the caller falls back to the WASM engine).
 */
export async function renderWithImages(images: ImagesBinding, source: Uint8Array | StreamedSource, header: Dimensions, t: Transform, steps: ImageTransform[]): Promise<Rendered> {
  const stream = source instanceof Uint8Array ? new Blob([source as Uint8Array<ArrayBuffer>]).stream() : source.stream;
  let transformer = images.input(stream);
  for (const step of steps) transformer = transformer.transform(step);
  const result = await transformer.output({ format: CONTENT_TYPES[t.format] as ImageOutputOptions['format'], quality: t.quality });
  const body = new Uint8Array(await result.response().arrayBuffer());
  const size = readDimensions(body);
  if (!size || 'needBytes' in size || result.contentType() !== CONTENT_TYPES[t.format]) throw new Error(`the Images binding answered ${result.contentType()}, not ${CONTENT_TYPES[t.format]}`);
  return { body, contentType: CONTENT_TYPES[t.format], width: size.width, height: size.height };
}

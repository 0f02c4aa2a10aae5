import avifDecode, { init as initAvif } from '@jsquash/avif/decode.js';
import avifWasm from '@jsquash/avif/codec/dec/avif_dec.wasm';
import webpDecode, { init as initWebp } from '@jsquash/webp/decode.js';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import { AppError } from '../errors/app-error';
import type { Dimensions } from './dimensions';
import type { Extent } from './frames';
import { decodeGif } from './gif';
import { decodeJpeg } from './jpeg-turbo';

/** 8-bit RGBA pixels, row by row. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Decoders that fail with an exception, never a trap. photon's decoder (Rust's image crate
 * behind wasm-bindgen) unwraps its errors: a file it cannot decode aborts the WebAssembly instance
 * mid-call, leaking the instance's stack and heap, and after some of those every later photon call
 * in the isolate fails (the decoder fuzz test found it). photon now only ever sees pixels built
 * here; its resize and encoders are fed valid images.
 *
 * JPEG: libjpeg-turbo in its own WebAssembly instance (./jpeg-turbo.ts), at `scale`/8.
 * PNG is decoded by ./png.ts, row by row into its reduction (see pipeline.ts). GIF (first frame over its logical screen): ./gif.ts.
 * WebP: libwebp in its own WebAssembly instance (@jsquash/webp), which reports a bad file by
 * returning nothing. AVIF: libavif over dav1d (@jsquash/avif), 8-bit; an instance that failed is
 * replaced (an Emscripten abort leaves it unusable).
 */
export async function decodeImage(bytes: Uint8Array, header: Dimensions, extent: Extent, scale: 1 | 2 | 4 | 8): Promise<Pixels> {
  let pixels: Pixels;
  try {
    pixels = await byFormat(bytes, header, scale);
  } catch (error) {
    // Its cause tells a codec's report of bad data from a heap that could not grow (see refusalOf).
    throw new AppError('UNPROCESSABLE_IMAGE', `The ${header.format.toUpperCase()} file could not be decoded.`, { cause: error });
  }
  // The decoded size was checked before decoding: a decoder that disagrees with it is not trusted.
  const most = (n: number) => Math.ceil((n * scale) / 8);
  if (pixels.width > most(extent.width) || pixels.height > most(extent.height) || pixels.data.length !== pixels.width * pixels.height * 4) {
    throw new AppError('UNPROCESSABLE_IMAGE', `The ${header.format.toUpperCase()} file decodes to another size than its header says.`);
  }
  return pixels;
}

/** `scale` (of 8) applies to JPEG, which can be decoded smaller from its DCT; the others decode in full. */
async function byFormat(bytes: Uint8Array, header: Dimensions, scale: 1 | 2 | 4 | 8): Promise<Pixels> {
  switch (header.format) {
    case 'jpeg':
      return decodeJpeg(bytes, scale);
    case 'gif':
      return decodeGif(bytes);
    case 'webp':
      return webp(bytes);
    case 'avif':
      return avif(bytes);
    default:
      throw new Error(`no decoder for ${header.format}`);
  }
}

let webpReady: Promise<void> | undefined;

async function webp(bytes: Uint8Array): Promise<Pixels> {
  webpReady ??= initWebp(webpWasm);
  await webpReady;
  const image = await webpDecode(bytes.slice().buffer);
  return { width: image.width, height: image.height, data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength) };
}

/**
 * The AVIF decoder's heap is capped: libavif and dav1d size their buffers from the AV1 bitstream,
 * which may claim more than the `ispe` that was checked. With the cap a larger frame fails its
 * allocation (an error, then a 422) instead of growing the isolate past its 128 MB. 64 MiB holds a
 * 4 MP (ASSETS_TRANSFORM_MAX_PIXELS) image's frame, its RGBA and the file; an instance that grew past
 * 16 MiB is dropped after its job, as WebAssembly memory never shrinks.
 */
const AVIF_HEAP_LIMIT = 64 * 1024 * 1024;
const AVIF_KEEP_BELOW = 16 * 1024 * 1024;
let avifReady: Promise<void> | undefined;
let avifMemory: WebAssembly.Memory | undefined;

/** Emscripten's instantiation, with its heap-growth import refusing to pass AVIF_HEAP_LIMIT. */
function cappedInstance(imports: Record<string, Record<string, unknown>>, ready: (instance: WebAssembly.Instance) => void) {
  for (const table of Object.values(imports)) {
    for (const [name, f] of Object.entries(table)) {
      if (typeof f === 'function' && f.name === '_emscripten_resize_heap') {
        table[name] = (requested: number) => (requested >>> 0 > AVIF_HEAP_LIMIT ? false : f(requested));
      }
    }
  }
  const instance = new WebAssembly.Instance(avifWasm, imports as WebAssembly.Imports);
  avifMemory = Object.values(instance.exports).find((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory);
  ready(instance);
  return instance.exports;
}

async function avif(bytes: Uint8Array): Promise<Pixels> {
  avifReady ??= Promise.resolve((initAvif as (m: WebAssembly.Module, o: object) => unknown)(avifWasm, { instantiateWasm: cappedInstance })).then(() => undefined);
  await avifReady;
  try {
    const image = await avifDecode(bytes.slice().buffer);
    if (!image) throw new Error('AVIF decoder returned nothing');
    return { width: image.width, height: image.height, data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength) };
  } catch (error) {
    avifReady = undefined;
    throw error;
  } finally {
    if ((avifMemory?.buffer.byteLength ?? 0) > AVIF_KEEP_BELOW) avifReady = undefined;
  }
}

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
 * WebP and AVIF are reduced as they leave their decoders' heaps (./webp.ts, ./avif.ts, ./heap-frame.ts).
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
    default:
      throw new Error(`no decoder for ${header.format}`);
  }
}

import avifEncode, { init as initAvifEncoder } from '@jsquash/avif/encode.js';
import avifEncoderWasm from '@jsquash/avif/codec/enc/avif_enc.wasm';
import webpEncode, { init as initWebpEncoder } from '@jsquash/webp/encode.js';
import webpEncoderWasm from '@jsquash/webp/codec/enc/webp_enc_simd.wasm';
import type { PhotonImage } from '@cf-wasm/photon';
import { encodeJpeg } from './jpeg-encode';
import { encodeTiff } from './tiff-encode';
import type { OutputFormat } from './transform';

/**
 * AVIF encoder speed (libaom, 0 slowest – 10 fastest), measured on a photo in Node: at 400×267,
 * speed 6 takes 105 ms, 8 takes 15 ms, 10 takes 11 ms, and the files are within 3% of each other;
 * 8 keeps a 400 px miss well within 3× the JPEG miss.
 */
const AVIF_SPEED = 8;

/** Instantiated on first use: a Worker that never makes AVIF never pays for its 3.5 MB encoder. */
let webpReady: Promise<unknown> | undefined;
let avifReady: Promise<unknown> | undefined;

/**
 * Encodes a finished image. JPEG with MozJPEG (./jpeg-encode.ts), PNG with photon; WebP with libwebp,
 * lossy at `quality` (lossless only when asked for by `lossless`); AVIF with libaom through libavif at `quality`;
 * TIFF lossless (./tiff-encode.ts).
 */
export async function encodeImage(img: PhotonImage, format: OutputFormat, quality: number, lossless: boolean): Promise<Uint8Array> {
  switch (format) {
    case 'jpg':
      return encodeJpeg(img.get_raw_pixels(), img.get_width(), img.get_height(), quality);
    case 'png':
      return img.get_bytes();
    case 'webp': {
      webpReady ??= withModule(initWebpEncoder, webpEncoderWasm);
      await webpReady;
      return new Uint8Array(await webpEncode(imageData(img), lossless ? { lossless: 1, exact: 1, quality: 100 } : { quality, method: 4 }));
    }
    case 'avif': {
      avifReady ??= withModule(initAvifEncoder, avifEncoderWasm);
      await avifReady;
      return new Uint8Array(await avifEncode(imageData(img), { quality, speed: AVIF_SPEED }));
    }
    case 'tiff':
      return encodeTiff(img.get_raw_pixels(), img.get_width(), img.get_height());
  }
}

type ImageData = Parameters<typeof webpEncode>[0];

/** The RGBA pixels in the shape the jSquash encoders take (the Workers runtime has no ImageData). */
function imageData(img: PhotonImage): ImageData {
  const raw = img.get_raw_pixels();
  return { data: new Uint8ClampedArray(raw.buffer, raw.byteOffset, raw.byteLength), width: img.get_width(), height: img.get_height(), colorSpace: 'srgb' } as ImageData;
}

/** Their `init` takes the compiled module at run time; the published types only list its options. */
const withModule = (init: unknown, module: WebAssembly.Module) => (init as (m: WebAssembly.Module) => Promise<unknown>)(module);

import mozjpegFactory, { type EncodeOptions, type MozJPEGModule } from '@jsquash/jpeg/codec/enc/mozjpeg_enc.js';
import mozjpegWasm from '@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm';
import { defaultOptions } from '@jsquash/jpeg/meta.js';

/**
 * Progressive between these output sizes (≈ 300×200 to ≈ 860×580). Measured on five photos at q50–90:
 * MozJPEG's progressive scans (with its scan search) are 1.5–2.5% smaller than sequential from about
 * 60,000 pixels up, and larger below, where the extra scans' headers cost more than they save; they
 * also take 2–2.4× the time of a sequential encode (400 px: 24 against 11 ms; 2000×2000: 811 against
 * 338 ms). Past 500,000 pixels the encode is already long and 1–2% of bytes is not worth doubling it.
 */
export const PROGRESSIVE_PIXELS = { from: 60_000, below: 500_000 };

/**
 * 4:2:0 keeps one chroma sample for each 2×2 block. When the chroma that loses (its RMS distance from
 * the block's mean, in levels of 255) reaches this, the image is text-like or a small graphic with
 * sharp coloured edges, or a small image whose every pixel carries detail, and 4:4:4 is kept. Measured:
 * photos at 400–800 px 0.5–2.5, the same photos at 100–200 px 1.3–4.3, coloured text on a plain
 * ground 7.5–9, a logo 4.3. (Luma, which SSIM scores, is the same either way: this is for the eye.)
 */
export const CHROMA_LOSS_FOR_444 = 3;

/**
 * A module whose memory grew past this is dropped after its job: WebAssembly memory never shrinks. It
 * starts at 16 MiB; MozJPEG holds ~12 bytes an output pixel (the RGBA copy, the whole image's
 * coefficients for its optimised tables and trellis): a 2000×2000 encode grows it to 64 MiB. With the
 * pixels handed to it (8 bytes a pixel) that stays under the 24 bytes a pixel the pipeline counts an
 * image at (ASSETS_TRANSFORM_MAX_PIXELS bounds the output too), so no bound of its own is needed.
 */
const KEEP_BYTES = 32 * 1024 * 1024;

/** The emscripten module (its heap view is kept current as the memory grows; the published types omit it). */
type Codec = MozJPEGModule & { HEAP8: Int8Array };

/** Instantiated on first use: a Worker that never makes a JPEG never pays for it. */
let ready: Promise<Codec> | undefined;

function instantiate(): Promise<Codec> {
  return mozjpegFactory({
    noInitialRun: true,
    // The compiled module comes with the bundle (wrangler compiles `.wasm` imports): nothing is fetched.
    instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(mozjpegWasm, imports);
      done(instance);
      return instance.exports;
    },
  } as Parameters<typeof mozjpegFactory>[0]) as Promise<Codec>;
}

/**
 * Encodes RGBA pixels (alpha ignored: the pipeline flattens first) as JPEG with MozJPEG at libjpeg's
 * quality scale: `quant_table: 0` is libjpeg's standard (Annex K) tables, scaled by `quality` exactly
 * as libjpeg-turbo (sharp) scales them, so `quality=80` means what it means there. On top: trellis
 * quantisation and optimised Huffman tables (MozJPEG's defaults), 4:2:0 chroma unless it loses too
 * much (`chromaLoss`), progressive in PROGRESSIVE_PIXELS.
 */
export async function encodeJpeg(data: Uint8Array, width: number, height: number, quality: number): Promise<Uint8Array> {
  ready ??= instantiate();
  const module = await ready;
  const options: EncodeOptions = {
    ...defaultOptions,
    quality,
    quant_table: 0,
    baseline: false,
    progressive: width * height >= PROGRESSIVE_PIXELS.from && width * height < PROGRESSIVE_PIXELS.below,
    optimize_coding: true,
    auto_subsample: false,
    chroma_subsample: chromaLoss(data, width, height) >= CHROMA_LOSS_FOR_444 ? 1 : 2,
  };
  try {
    // The result is a copy out of the module's memory (embind's Uint8Array.new_).
    return module.encode(data, width, height, options);
  } finally {
    if (module.HEAP8.byteLength > KEEP_BYTES) ready = undefined;
  }
}

/**
 * What 4:2:0 would lose: the RMS difference, in levels, between each pixel's chroma (Cb and Cr, as
 * JPEG computes them) and the mean of its 2×2 block — the error of a box-subsampled, box-upsampled
 * chroma plane, an upper bound of what a decoder's smoother upsampling shows. One pass over the pixels.
 */
export function chromaLoss(data: Uint8Array, width: number, height: number): number {
  let sum = 0;
  let n = 0;
  const cb = [0, 0, 0, 0];
  const cr = [0, 0, 0, 0];
  for (let y = 0; y + 1 < height; y += 2) {
    for (let x = 0; x + 1 < width; x += 2) {
      for (let k = 0; k < 4; k++) {
        const i = ((y + (k >> 1)) * width + x + (k & 1)) * 4;
        const r = data[i] as number;
        const g = data[i + 1] as number;
        const b = data[i + 2] as number;
        cb[k] = -0.168736 * r - 0.331264 * g + 0.5 * b;
        cr[k] = 0.5 * r - 0.418688 * g - 0.081312 * b;
      }
      const mb = ((cb[0] as number) + (cb[1] as number) + (cb[2] as number) + (cb[3] as number)) / 4;
      const mr = ((cr[0] as number) + (cr[1] as number) + (cr[2] as number) + (cr[3] as number)) / 4;
      for (let k = 0; k < 4; k++) sum += ((cb[k] as number) - mb) ** 2 + ((cr[k] as number) - mr) ** 2;
      n += 8;
    }
  }
  return n === 0 ? 0 : Math.sqrt(sum / n);
}

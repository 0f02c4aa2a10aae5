import webpFactory, { type WebPModule } from '@jsquash/webp/codec/dec/webp_dec.js';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import type { Pixels } from './decode';
import type { Dimensions } from './dimensions';
import type { Extent } from './frames';
import { assertHeapFits, type FrameReduction, HEAP_START_BYTES, HeapCodec } from './heap-frame';

/**
 * libwebp's heap beyond its start and the file, in bytes a pixel of the largest extent the file
 * declares (measured on 1–12 MP photos, the growth between 6 and 12 MP, rounded up): lossy decodes
 * into its RGBA (4.3); with an ALPH chunk it adds the alpha plane and its filtering (6.4); lossless
 * (VP8L) holds its whole ARGB image besides the RGBA, and its transforms' buffers (9.4).
 */
const RATES = { lossy: 4.5, 'lossy with alpha': 7, lossless: 10 } as const;
type Kind = keyof typeof RATES;

const codec = new HeapCodec<WebPModule>(webpFactory as never, webpWasm);

/** What decoding `bytes` takes from the heap, judged from its top-level chunks (the cap holds it to that). */
export function webpHeap(bytes: Uint8Array, extent: Extent): { kind: Kind; rate: number; bytes: number } {
  const kind = webpKind(bytes);
  const rate = RATES[kind];
  return { kind, rate, bytes: HEAP_START_BYTES + bytes.byteLength + Math.ceil(rate * extent.width * extent.height) };
}

/** VP8L anywhere at the top level makes it lossless; an ALPH chunk gives a lossy one its alpha plane. */
function webpKind(b: Uint8Array): Kind {
  let alpha = false;
  const end = Math.min(b.length, 8 + (b[4]! | (b[5]! << 8) | (b[6]! << 16)) + b[7]! * 2 ** 24);
  for (let i = 12; i + 8 <= end; ) {
    const fourcc = String.fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!);
    const size = b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! * 2 ** 24);
    if (fourcc === 'VP8L') return 'lossless';
    if (fourcc === 'ALPH') alpha = true;
    i += 8 + size + (size & 1);
  }
  return alpha ? 'lossy with alpha' : 'lossy';
}

/**
 * Decodes a WebP (libwebp, @jsquash/webp) with its heap capped at what webpHeap counted, and reduces
 * its frame by `r` as it leaves the heap. Refused with the numbers when the heap and `heldBytes`
 * (what the pipeline holds meanwhile) pass `budgetBytes`.
 */
export async function decodeWebp(bytes: Uint8Array, header: Dimensions, extent: Extent, r: FrameReduction, heldBytes: number, budgetBytes: number): Promise<Pixels> {
  const need = webpHeap(bytes, extent);
  assertHeapFits(header, `${need.kind} WebP`, need.bytes, need.rate, heldBytes, budgetBytes);
  const job = { width: header.width, height: header.height, reduction: r, alpha: need.kind !== 'lossy' };
  // embind copies a Uint8Array into the heap itself: no copy of the file on this side.
  const data = await codec.run(need.bytes, job, (m) => m.decode(bytes));
  return { width: r.outWidth, height: r.outHeight, data };
}

import avifFactory, { type AVIFModule } from '@jsquash/avif/codec/dec/avif_dec.js';
import avifWasm from '@jsquash/avif/codec/dec/avif_dec.wasm';
import type { Pixels } from './decode';
import type { Dimensions } from './dimensions';
import { assertHeapFits, type FrameReduction, HEAP_START_BYTES, HeapCodec } from './heap-frame';

/**
 * libavif over dav1d (@jsquash/avif) holds three images of the frame at once: dav1d's picture (and
 * its pool and loop-filter buffers), libavif's copy of the YUV planes, and the RGBA it converts
 * them into. Measured on 1–12 MP photos, beyond the heap's start and the file, in bytes a pixel:
 * 4:2:0 8-bit 12.0, 4:4:4 8-bit 18.0, 4:2:0 10-bit 16.3, 4:4:4 8-bit with alpha 31.2. Counted as
 * (RGBA 4 + 5.5 × the planes' bytes + 10 × a sample's bytes with alpha) × 1.05, which covers each.
 */
function avifRate(b: Uint8Array): { rate: number; kind: string } {
  const at = indexOf(b, 'av1C');
  // Without an av1C box, the costliest layout an AVIF may have: 12-bit 4:4:4 with alpha.
  const flags = at < 0 ? 0b01100000 : (b[at + 6] ?? 0);
  const sample = flags & 0b01000000 ? 2 : 1;
  const monochrome = (flags & 0b00010000) !== 0;
  const subsampled = ((flags >> 3) & 1) + ((flags >> 2) & 1);
  const chroma = monochrome ? 0 : [1, 0.5, 0.25][subsampled]!;
  const alpha = at < 0 || indexOf(b, 'auxC') >= 0;
  const planes = sample * (1 + 2 * chroma);
  const rate = Math.ceil((4 + 5.5 * planes + (alpha ? 10 * sample : 0)) * 1.05 * 2) / 2;
  const layout = monochrome ? '4:0:0' : ['4:4:4', '4:2:2', '4:2:0'][subsampled];
  return { rate, kind: `${sample === 2 ? 'high bit depth' : '8-bit'} ${layout}${alpha ? ' with alpha' : ''} AVIF` };
}

/** The first place the 4-character box type `type` occurs: a scan bounded by the file's length. */
function indexOf(b: Uint8Array, type: string): number {
  const [c0, c1, c2, c3] = [...type].map((c) => c.charCodeAt(0));
  for (let i = 4; i + 4 <= b.length; i++) if (b[i] === c0 && b[i + 1] === c1 && b[i + 2] === c2 && b[i + 3] === c3) return i;
  return -1;
}

const codec = new HeapCodec<AVIFModule>(avifFactory as never, avifWasm);

/** What decoding `bytes` (a `width`×`height` image, its ispe) takes from the heap; the cap holds the decoder to it. */
export function avifHeap(bytes: Uint8Array, header: Dimensions): { kind: string; rate: number; bytes: number } {
  const { rate, kind } = avifRate(bytes);
  return { kind, rate, bytes: HEAP_START_BYTES + bytes.byteLength + Math.ceil(rate * header.width * header.height) };
}

/**
 * Decodes an AVIF to 8 bits with its heap capped at what avifHeap counted (libavif and dav1d size
 * their buffers from the AV1 bitstream, which may claim more than the ispe that was checked: such a
 * frame fails its allocation), and reduces the frame by `r` as it leaves the heap. Refused with the
 * numbers when the heap and `heldBytes` pass `budgetBytes`.
 */
export async function decodeAvif(bytes: Uint8Array, header: Dimensions, r: FrameReduction, heldBytes: number, budgetBytes: number): Promise<Pixels> {
  const need = avifHeap(bytes, header);
  assertHeapFits(header, need.kind, need.bytes, need.rate, heldBytes, budgetBytes);
  const job = { width: header.width, height: header.height, reduction: r, alpha: need.kind.endsWith('with alpha AVIF') };
  const data = await codec.run(need.bytes, job, (m) => m.decode(bytes, 8));
  return { width: r.outWidth, height: r.outHeight, data };
}

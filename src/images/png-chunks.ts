/**
 * A PNG's chunks (RFC 2083 / ISO 15948), read from a stream: the signature, IHDR, PLTE and tRNS up to
 * the first IDAT, then the image data spread over consecutive IDATs. The walk is bounded by the bytes
 * read; png.ts inflates and unfilters what it gives.
 */

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

/** A damaged or unsupported file (the decoder's own refusals have their classes). */
export class PngError extends Error {}

const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
export const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const u32 = (b: Uint8Array, i: number) => ((b[i] as number) * 2 ** 24) + (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number));

export function singleChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** Reads a byte stream in pieces of the caller's choosing, copying only pieces that span two reads. */
export class ByteReader {
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);
  /** Why the source stream failed, when it did (whatever the inflater makes of it). */
  failure: unknown;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Up to `max` bytes (at least one); an error at the end of the stream. */
  async some(max: number): Promise<Uint8Array> {
    while (this.pending.byteLength === 0) {
      const { done, value } = await this.reader.read().catch((cause: unknown) => {
        this.failure = cause;
        throw cause;
      });
      if (done) throw new PngError('the file ends early');
      this.pending = value;
    }
    const piece = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(piece.byteLength);
    return piece;
  }

  async exactly(n: number): Promise<Uint8Array> {
    const first = await this.some(n);
    if (first.byteLength === n) return first;
    const out = new Uint8Array(n);
    out.set(first);
    for (let at = first.byteLength; at < n; ) {
      const piece = await this.some(n - at);
      out.set(piece, at);
      at += piece.byteLength;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    for (let left = n; left > 0; ) left -= (await this.some(left)).byteLength;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

/** A chunk's length and type, and the chunk's end (its data and CRC) still to read. */
async function chunkHead(bytes: ByteReader): Promise<{ length: number; type: string }> {
  const head = await bytes.exactly(8);
  const length = u32(head, 0);
  if (length > 2 ** 31 - 1) throw new PngError('chunk length out of range');
  return { length, type: String.fromCharCode(...head.subarray(4, 8)) };
}

/** IHDR, PLTE and tRNS (which must come before the image data), up to the first IDAT's head. */
export async function readUntilImageData(bytes: ByteReader) {
  let header: PngHeader | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  for (;;) {
    const { length, type } = await chunkHead(bytes);
    if (!header && type !== 'IHDR') throw new PngError('IHDR is not the first chunk');
    if (type === 'IDAT') {
      if (!header) throw new PngError('no IHDR');
      if (header.colorType === 3 && !palette) throw new PngError('indexed image without PLTE');
      return { header, palette, transparency, firstIdat: length };
    }
    if (type === 'IEND') throw new PngError('no IDAT');
    if (type === 'IHDR' || type === 'PLTE' || type === 'tRNS') {
      if (length > 768) throw new PngError(`${type} chunk too long`);
      const data = (await bytes.exactly(length)).slice();
      await bytes.skip(4);
      if (type === 'IHDR') {
        if (header || length !== 13) throw new PngError('bad IHDR');
        header = { width: u32(data, 0), height: u32(data, 4), depth: data[8] as number, colorType: data[9] as number, interlace: data[12] as number };
        if (header.width === 0 || header.height === 0) throw new PngError('empty image');
        if (!DEPTHS[header.colorType]?.includes(header.depth) || data[10] !== 0 || data[11] !== 0 || header.interlace > 1) throw new PngError('unsupported IHDR');
      } else if (type === 'PLTE') {
        if (length % 3 !== 0 || length === 0) throw new PngError('bad PLTE');
        palette = data;
      } else {
        transparency = data;
      }
    } else {
      await bytes.skip(length + 4);
    }
  }
}

/**
 * The zlib stream spread over consecutive IDAT chunks, as a stream pulled chunk by chunk (the first
 * IDAT's head was read already). It ends at the first chunk that is not an IDAT.
 */
export function imageData(bytes: ByteReader, firstLength: number): ReadableStream<Uint8Array> {
  let left = firstLength;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (left === 0) {
        await bytes.skip(4);
        const { length, type } = await chunkHead(bytes);
        if (type !== 'IDAT') return controller.close();
        left = length;
      }
      const piece = await bytes.some(left);
      left -= piece.byteLength;
      controller.enqueue(piece);
    },
  });
}

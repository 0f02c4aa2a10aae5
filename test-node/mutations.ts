/**
 * Seeded mutations of a valid image, as a fuzzer makes them: bit flips, bytes set to extremes,
 * truncations (with the format's ending put back, so the file gets past the completeness check),
 * header fields changed, and slices duplicated. The same seed gives the same case.
 */

/** xorshift32: a small, repeatable generator. */
export function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

export type MutationKind = 'bitflip' | 'byte' | 'truncate' | 'header' | 'splice';
export const MUTATION_KINDS: MutationKind[] = ['bitflip', 'byte', 'truncate', 'header', 'splice'];

/**
 * Offsets of the bytes a decoder reads as header fields: JPEG marker segments before the scan, an
 * AVIF's boxes before its mdat (ispe, av1C, pixi), a TIFF's first directory, the first chunks of PNG, GIF and WebP.
 */
function headerRange(b: Uint8Array): [number, number] {
  if (b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 4 <= b.length && b[i] === 0xff && b[i + 1] !== 0xda) i += 2 + (((b[i + 2] as number) << 8) | (b[i + 3] as number));
    return [2, Math.min(b.length, i + 14)];
  }
  if (String.fromCharCode(...b.subarray(4, 8)) === 'ftyp') {
    const mdat = Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf('mdat');
    return [8, mdat < 0 ? Math.min(b.length, 512) : mdat];
  }
  // TIFF: its first directory, wherever it is (libtiff writes it after the image data).
  if ((b[0] === 0x49 && b[1] === 0x49) || (b[0] === 0x4d && b[1] === 0x4d)) {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const le = b[0] === 0x49;
    const ifd = view.getUint32(4, le);
    if (ifd + 2 <= b.length) return [ifd, Math.min(b.length, ifd + 2 + 12 * view.getUint16(ifd, le))];
  }
  return [0, Math.min(b.length, 64)];
}

export function mutate(original: Uint8Array, kind: MutationKind, seed: number): Uint8Array {
  const random = generator(seed);
  const at = (n: number) => Math.floor(random() * n);
  const b = original.slice();
  switch (kind) {
    case 'bitflip': {
      for (let n = 1 + at(8); n > 0; n--) {
        const i = at(b.length);
        b[i] = (b[i] as number) ^ (1 << at(8));
      }
      return b;
    }
    case 'byte': {
      const values = [0, 0xff, 0x7f, 0x80, 1];
      for (let n = 1 + at(4); n > 0; n--) b[at(b.length)] = values[at(values.length)] ?? at(256);
      return b;
    }
    case 'truncate': {
      const cut = 2 + at(b.length - 2);
      // The format's last bytes (JPEG EOI, PNG IEND, GIF trailer) put back after the cut.
      const tail = original.subarray(original.length - 12);
      const out = new Uint8Array(cut + tail.length);
      out.set(b.subarray(0, cut));
      out.set(tail, cut);
      return out;
    }
    case 'header': {
      const [start, end] = headerRange(b);
      for (let n = 1 + at(3); n > 0; n--) b[start + at(end - start)] = at(256);
      return b;
    }
    case 'splice': {
      const from = at(b.length);
      const length = 1 + at(Math.min(256, b.length - from));
      const into = at(b.length);
      const out = new Uint8Array(b.length + length);
      out.set(b.subarray(0, into));
      out.set(b.subarray(from, from + length), into);
      out.set(b.subarray(into), into + length);
      return out;
    }
  }
}

/**
 * GIF's first frame (GIF89a, W3C/CompuServe spec) decoded to RGBA over the logical screen, as a
 * browser shows a still: the frame at its position, transparent around it and where its Graphic
 * Control Extension says so. Written here rather than taken from a library because the one
 * maintained pure-JavaScript decoder looped forever on mutated files in the fuzz test: every loop
 * below advances through the input or fills the output, and stops when either ends.
 */

const MAX_CODE = 4096;

export interface GifFrame {
  width: number;
  height: number;
  /** RGBA, width × height (the logical screen). */
  data: Uint8Array;
}

class GifError extends Error {}

const u16 = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);

export function decodeGif(b: Uint8Array): GifFrame {
  const width = u16(b, 6);
  const height = u16(b, 8);
  if (width === 0 || height === 0) throw new GifError('empty logical screen');
  const tableSize = (flags: number) => (flags & 0x80 ? 2 ** ((flags & 7) + 1) : 0);
  let global = b.subarray(13, 13 + 3 * tableSize(b[10] ?? 0));
  let i = 13 + global.length;
  let transparent = -1;
  for (;;) {
    if (i >= b.length) throw new GifError('no image');
    const block = b[i] as number;
    if (block === 0x21) {
      // Graphic Control Extension: its flags say whether an index is transparent.
      if (b[i + 1] === 0xf9 && b[i + 2] === 4) transparent = (b[i + 3] as number) & 1 ? (b[i + 6] as number) : -1;
      i = skipSubBlocks(b, i + 2);
    } else if (block === 0x2c) {
      break;
    } else {
      throw new GifError('unexpected block');
    }
  }
  const left = u16(b, i + 1);
  const top = u16(b, i + 3);
  const fw = u16(b, i + 5);
  const fh = u16(b, i + 7);
  const flags = b[i + 9] ?? 0;
  i += 10;
  const local = b.subarray(i, i + 3 * tableSize(flags));
  i += local.length;
  const palette = local.length > 0 ? local : global;
  global = palette;
  const minCodeSize = b[i] ?? 0;
  if (minCodeSize < 2 || minCodeSize > 8) throw new GifError('LZW code size');
  const indices = lzw(b, i + 1, minCodeSize, fw * fh);
  const rows = flags & 0x40 ? interlacedRows(fh) : undefined;

  const data = new Uint8Array(width * height * 4);
  for (let r = 0; r < fh; r++) {
    const y = top + (rows ? (rows[r] as number) : r);
    if (y >= height) continue;
    for (let x = 0; x < fw && left + x < width; x++) {
      const index = indices[r * fw + x] as number;
      if (index === transparent) continue;
      const o = (y * width + left + x) * 4;
      data[o] = palette[index * 3] ?? 0;
      data[o + 1] = palette[index * 3 + 1] ?? 0;
      data[o + 2] = palette[index * 3 + 2] ?? 0;
      data[o + 3] = 255;
    }
  }
  return { width, height, data };
}

function skipSubBlocks(b: Uint8Array, at: number): number {
  let i = at;
  for (;;) {
    if (i >= b.length) throw new GifError('truncated');
    const size = b[i] as number;
    i += 1 + size;
    if (size === 0) return i;
  }
}

/** Row r of an interlaced frame is stored at the position the four passes give it. */
function interlacedRows(height: number): Int32Array {
  const rows = new Int32Array(height);
  let r = 0;
  for (const [start, step] of [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ] as const) {
    for (let y = start; y < height; y += step) rows[r++] = y;
  }
  return rows;
}

/**
 * Variable-length LZW over the frame's sub-blocks into `count` colour indices. Each code read
 * consumes input bits and each string written fills output: the loop ends with either.
 */
function lzw(b: Uint8Array, at: number, minCodeSize: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const prefix = new Int16Array(MAX_CODE);
  const suffix = new Uint8Array(MAX_CODE);
  const length = new Uint16Array(MAX_CODE);
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  for (let c = 0; c < clear; c++) {
    suffix[c] = c;
    length[c] = 1;
  }
  let codeSize = minCodeSize + 1;
  let next = end + 1;
  let previous = -1;
  let written = 0;
  let bits = 0;
  let held = 0;
  let block = 0;
  let i = at;
  while (written < count) {
    // Refill from the sub-blocks (size byte, then data), one byte at a time.
    while (held < codeSize) {
      if (block === 0) {
        if (i >= b.length) return out;
        block = b[i++] as number;
        if (block === 0) return out;
      }
      if (i >= b.length) return out;
      bits |= (b[i++] as number) << held;
      held += 8;
      block--;
    }
    const code = bits & ((1 << codeSize) - 1);
    bits >>>= codeSize;
    held -= codeSize;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = end + 1;
      previous = -1;
      continue;
    }
    if (code === end) break;
    let first: number;
    if (code < next) {
      first = emit(code);
    } else if (code === next && previous >= 0) {
      // The KwKwK case: the previous string plus its own first symbol.
      const start = written;
      first = emit(previous);
      if (written < count) out[written++] = out[start] as number;
    } else {
      throw new GifError('LZW code out of range');
    }
    if (previous >= 0 && next < MAX_CODE) {
      prefix[next] = previous;
      suffix[next] = first;
      length[next] = (length[previous] as number) + 1;
      next++;
      if (next === 1 << codeSize && codeSize < 12) codeSize++;
    }
    previous = code;
  }
  return out;

  /** Writes the string of `code` (backwards along its prefixes) and returns its first symbol. */
  function emit(code: number): number {
    const n = length[code] as number;
    const start = written;
    let c = code;
    let firstSymbol = 0;
    for (let k = n - 1; k >= 0; k--) {
      const symbol = suffix[c] as number;
      if (start + k < count) out[start + k] = symbol;
      if (k === 0) firstSymbol = symbol;
      c = prefix[c] as number;
    }
    written = Math.min(count, start + n);
    return firstSymbol;
  }
}

import { _SHA256 } from '@noble/hashes/sha2.js';
import { hex } from './bytes';

/**
 * SHA-256 whose state can be saved and loaded, so a TUS upload's checksum survives the eviction of
 * its Durable Object without reading the object again (hours at terabytes). The runtime's digests
 * cannot export their state and workerd refuses to compile WebAssembly at run time (hash-wasm's
 * way), so this is @noble/hashes's audited SHA-256 with its eight state words exposed.
 *
 * Saved state: 8 big-endian words, the byte count (8 bytes), then the 0–63 bytes of the block being
 * filled — at most 112 bytes, stored as base64.
 */
export class ResumableSha256 extends _SHA256 {
  /** The state as base64, to be stored beside the byte count it covers. */
  save(): string {
    const out = new Uint8Array(40 + this.pos);
    const view = new DataView(out.buffer);
    this.get().forEach((word, i) => view.setUint32(i * 4, word >>> 0));
    view.setFloat64(32, this.length);
    out.set(this.buffer.subarray(0, this.pos), 40);
    return btoa(String.fromCharCode(...out));
  }

  /** A hasher continuing from `saved` (a fresh one when undefined). */
  static load(saved: string | undefined): ResumableSha256 {
    const h = new ResumableSha256();
    if (saved === undefined) return h;
    const bytes = Uint8Array.from(atob(saved), (c) => c.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    if (bytes.byteLength < 40 || bytes.byteLength > 40 + 63) throw new Error('not a saved SHA-256 state');
    const w = Array.from({ length: 8 }, (_, i) => view.getUint32(i * 4));
    h.set(w[0] ?? 0, w[1] ?? 0, w[2] ?? 0, w[3] ?? 0, w[4] ?? 0, w[5] ?? 0, w[6] ?? 0, w[7] ?? 0);
    h.length = view.getFloat64(32);
    h.pos = bytes.byteLength - 40;
    h.buffer.set(bytes.subarray(40));
    return h;
  }

  /** Bytes hashed so far. */
  get hashed(): number {
    return this.length;
  }

  hex(): string {
    return hex(this.digest());
  }
}

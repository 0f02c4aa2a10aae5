import { hex } from './bytes';
import sha256Wasm from './sha256.wasm';

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** sha256.wat's memory layout: the state words at 0, the input from INPUT on. */
const INPUT = 1024;
const INPUT_BYTES = 64 * 1024;

let engine: { memory: Uint8Array; state: Int32Array; compress: (at: number, length: number) => void } | undefined;

/** Runs the compression function over the whole 64-byte blocks of data[from, to), on state `h`. */
function compress(h: Int32Array, data: Uint8Array, from: number, to: number): void {
  if (!engine) {
    const instance = new WebAssembly.Instance(sha256Wasm);
    const memory = instance.exports.memory as WebAssembly.Memory;
    engine = { memory: new Uint8Array(memory.buffer), state: new Int32Array(memory.buffer, 0, 8), compress: instance.exports.compress as (at: number, length: number) => void };
  }
  engine.state.set(h);
  for (let at = from; at < to; at += INPUT_BYTES) {
    const end = Math.min(to, at + INPUT_BYTES);
    engine.memory.set(data.subarray(at, end), INPUT);
    engine.compress(INPUT, end - at);
  }
  h.set(engine.state);
}

/**
 * SHA-256 (FIPS 180-4) whose state can be saved and loaded, so a TUS upload's checksum survives the
 * eviction of its Durable Object without reading the object again (hours at terabytes). The
 * runtime's digests cannot export their state, and workerd refuses to compile WebAssembly at run
 * time (hash-wasm's way). In JavaScript, SHA-256 depends on the JIT: @noble/hashes's ran at 9 MB/s in
 * workerd, and a hand-tuned one at 200 MB/s in one run and 3 MB/s in the next once V8 deoptimized
 * it under `wrangler dev`. So the compression function is our own WebAssembly (sha256.wat, built
 * ahead of time into sha256.wasm), and only the padding and the state's bookkeeping are here.
 *
 * Saved state: 8 big-endian words, the byte count (8 bytes), then the 0–63 bytes of the block being
 * filled — at most 103 bytes, as base64.
 */
export class ResumableSha256 {
  private readonly h = Int32Array.from(INITIAL);
  private readonly block = new Uint8Array(64);
  private filled = 0;
  /** Bytes hashed so far. */
  hashed = 0;

  update(data: Uint8Array): void {
    let at = 0;
    if (this.filled > 0) {
      at = Math.min(64 - this.filled, data.byteLength);
      this.block.set(data.subarray(0, at), this.filled);
      this.filled += at;
      if (this.filled < 64) return void (this.hashed += at);
      compress(this.h, this.block, 0, 64);
      this.filled = 0;
    }
    const whole = at + Math.floor((data.byteLength - at) / 64) * 64;
    compress(this.h, data, at, whole);
    this.block.set(data.subarray(whole));
    this.filled = data.byteLength - whole;
    this.hashed += data.byteLength;
  }

  /** The digest as lower-case hex (the hasher is left as it was). */
  hex(): string {
    const h = Int32Array.from(this.h);
    const bits = this.hashed * 8;
    const tail = new Uint8Array(128);
    const end = this.filled + 1 + 8 <= 64 ? 64 : 128;
    tail.set(this.block.subarray(0, this.filled));
    tail[this.filled] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(end - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(end - 4, bits >>> 0);
    compress(h, tail, 0, end);
    const out = new DataView(new ArrayBuffer(32));
    h.forEach((word, i) => out.setInt32(i * 4, word));
    return hex(out.buffer);
  }

  /** The state as base64, to be stored beside the byte count it covers. */
  save(): string {
    const out = new Uint8Array(40 + this.filled);
    const view = new DataView(out.buffer);
    this.h.forEach((word, i) => view.setInt32(i * 4, word));
    view.setFloat64(32, this.hashed);
    out.set(this.block.subarray(0, this.filled), 40);
    return btoa(String.fromCharCode(...out));
  }

  /** A hasher continuing from `saved` (a fresh one when undefined). */
  static load(saved: string | undefined): ResumableSha256 {
    const hasher = new ResumableSha256();
    if (saved === undefined) return hasher;
    const bytes = Uint8Array.from(atob(saved), (c) => c.charCodeAt(0));
    if (bytes.byteLength < 40 || bytes.byteLength > 40 + 63) throw new Error('not a saved SHA-256 state');
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 8; i++) hasher.h[i] = view.getInt32(i * 4);
    hasher.hashed = view.getFloat64(32);
    hasher.filled = bytes.byteLength - 40;
    if (hasher.filled !== hasher.hashed % 64) throw new Error('not a saved SHA-256 state');
    hasher.block.set(bytes.subarray(40));
    return hasher;
  }
}

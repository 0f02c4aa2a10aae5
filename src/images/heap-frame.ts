import { AppError } from '../errors/app-error';
import type { Dimensions } from './dimensions';
import type { PngReduction } from './png';
import { Average, Copy, type RowSink } from './png-rows';

/**
 * WebP and AVIF frames reduced straight out of their decoder's WebAssembly heap (./webp.ts, ./avif.ts).
 *
 * jSquash's decoders (libwebp, libavif over dav1d, compiled by Emscripten with embind) hand back an
 * ImageData whose pixels embind builds as `new Uint8ClampedArray(view of the heap)`: a copy of the
 * whole RGBA frame, 48 MB at 12 MP, next to the heap that still holds it. Here the glue's lookup of
 * the global `Uint8ClampedArray` (`_emval_get_global`, made once an instance) finds a constructor that
 * reduces the view, while the decoder still owns those bytes, into the kept region at the size the
 * pipeline asked for: what leaves the heap is the small image, never a frame-sized copy.
 *
 * The heap is capped per job through Emscripten's heap-growth import: a decoder whose file lied
 * about its size fails its allocation (a 422) instead of growing the isolate. Emscripten grows
 * geometrically (by up to a fifth of the heap past the request), so memory may pass the cap by that.
 */

/** The part of the frame to keep and the size to reduce it to: a PNG's reduction, the same sinks. */
export type FrameReduction = PngReduction;

/** A decoder heap starts at 16 MiB (Emscripten's INITIAL_MEMORY in both builds): its static data and stack. */
export const HEAP_START_BYTES = 16 * 1024 * 1024;
/** An instance that grew past its start is dropped after its job: WebAssembly memory never shrinks. */
const KEEP_BELOW = HEAP_START_BYTES;

/** The real constructor, kept while the global names the reducer: an ImageData (polyfilled or not) wants one. */
const Clamped = Uint8ClampedArray;

type Imports = Record<string, Record<string, unknown>>;
type Factory<M> = (options: { noInitialRun: boolean; instantiateWasm: (imports: Imports, ready: (instance: WebAssembly.Instance) => void) => WebAssembly.Exports }) => Promise<M>;

interface Job {
  width: number;
  height: number;
  reduction: FrameReduction;
  alpha: boolean;
}

/** One Emscripten codec: its instance, the current job's heap cap and reduction. */
export class HeapCodec<M> {
  private module: Promise<M> | undefined;
  private memory: WebAssembly.Memory | undefined;
  private limit = HEAP_START_BYTES;
  private job: Job | undefined;

  constructor(
    private readonly factory: Factory<M>,
    private readonly wasm: WebAssembly.Module,
  ) {}

  /**
   * Runs `decode` with the heap capped at `limit` bytes and the frame, which must be `width`×`height`,
   * reduced by `reduction` as it leaves the heap. The instance is replaced after an error (an
   * Emscripten abort or an exception through its frames leaves it unusable) or when it grew.
   */
  async run(limit: number, job: Job, decode: (module: M) => { width: number; height: number; data: ArrayBufferView } | null): Promise<Uint8Array> {
    this.module ??= this.factory({ noInitialRun: true, instantiateWasm: (imports, ready) => this.instantiate(imports, ready) });
    const module = await this.module;
    let clean = false;
    this.limit = limit;
    this.job = job;
    try {
      const image = decode(module);
      if (!image) throw new Error('the decoder returned nothing');
      if (image.width !== job.width || image.height !== job.height || !(image.data instanceof Clamped)) throw new FrameSizeError();
      clean = true;
      return new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    } finally {
      this.job = undefined;
      if (!clean || (this.memory?.buffer.byteLength ?? 0) > KEEP_BELOW) this.module = undefined;
    }
  }

  /** Emscripten's instantiation with two imports wrapped: heap growth (capped) and the global lookup. */
  private instantiate(imports: Imports, ready: (instance: WebAssembly.Instance) => void): WebAssembly.Exports {
    for (const table of Object.values(imports)) {
      for (const [name, f] of Object.entries(table)) {
        if (typeof f !== 'function') continue;
        if (f.name === '_emscripten_resize_heap') table[name] = (requested: number) => (requested >>> 0 > this.limit ? false : f(requested));
        if (f.name === '__emval_get_global') table[name] = (at: number) => this.lookup(this.cString(at), () => f(at));
      }
    }
    const instance = new WebAssembly.Instance(this.wasm, imports as WebAssembly.Imports);
    this.memory = Object.values(instance.exports).find((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory);
    ready(instance);
    return instance.exports;
  }

  /** The NUL-terminated name embind passes by address (what its getStringOrSymbol reads), at most 64 bytes. */
  private cString(at: number): string {
    if (!this.memory || at === 0) return '';
    const bytes = new Uint8Array(this.memory.buffer, at, Math.min(64, this.memory.buffer.byteLength - at));
    const end = bytes.indexOf(0);
    return String.fromCharCode(...bytes.subarray(0, end < 0 ? bytes.length : end));
  }

  /**
   * The lookups of `Uint8ClampedArray` and `ImageData` made while the globals name the reducer and a
   * plain holder (an ImageData would refuse the reduced pixels' size): the instance keeps them for
   * every later frame. A constructor returning an object gives that object to `new`.
   */
  private lookup(name: string, original: () => unknown): unknown {
    const codec = this;
    const stand: Record<string, unknown> = {
      Uint8ClampedArray: function reducer(view: Uint8Array) {
        return codec.reduce(view);
      },
      ImageData: function frame(data: Uint8ClampedArray, width: number, height: number) {
        return { data, width, height };
      },
    };
    if (!(name in stand)) return original();
    const global = globalThis as Record<string, unknown>;
    const saved = global[name];
    global[name] = stand[name];
    try {
      return original();
    } finally {
      global[name] = saved;
    }
  }

  private reduce(view: Uint8Array): Uint8ClampedArray {
    const job = this.job;
    if (!job || view.byteLength !== job.width * job.height * 4) throw new FrameSizeError();
    const out = reduceFrame(view, job.width, job.height, job.reduction, job.alpha);
    return new Clamped(out.buffer, out.byteOffset, out.byteLength);
  }
}

/** A frame of another size than the header checked: refused, whatever its pixels. */
export class FrameSizeError extends Error {
  constructor() {
    super('the frame differs from the size its header says');
  }
}

/** `rgba` (width × height) reduced by `r` through the PNG decoder's sinks, row by row. */
export function reduceFrame(rgba: Uint8Array, width: number, height: number, r: FrameReduction, alpha: boolean): Uint8Array {
  const header = { width, height, depth: 8, colorType: 6, interlace: 0 };
  const sink: RowSink = r.outWidth === r.width && r.outHeight === r.height ? new Copy(header, r) : new Average(header, r, alpha);
  const stride = width * 4;
  for (let y = r.top; y < r.top + r.height; y++) {
    if (sink.wants(0, y)) sink.row(0, y, rgba.subarray(y * stride, (y + 1) * stride), width);
  }
  return sink.result();
}

/**
 * Refuses a decode whose heap, with what the pipeline holds besides (`heldBytes`), passes `budgetBytes`,
 * naming the numbers: the kind of file, its bytes a pixel and the budget they are held to.
 */
export function assertHeapFits(header: Dimensions, kind: string, heapBytes: number, bytesPerPixel: number, heldBytes: number, budgetBytes: number): void {
  if (heapBytes + heldBytes <= budgetBytes) return;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  throw new AppError(
    'UNPROCESSABLE_IMAGE',
    `The image is ${header.width}×${header.height} (${kind}); its decoder needs ${mib(heapBytes)} MiB (${bytesPerPixel} bytes a pixel, the file and ${mib(HEAP_START_BYTES)} MiB to start) and the transform ${mib(heldBytes)} MiB more, and transforms are limited to ${mib(budgetBytes)} MiB (ASSETS_TRANSFORM_MAX_PIXELS × 24 bytes) to fit in the Worker's memory.`,
  );
}

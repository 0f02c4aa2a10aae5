import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { bundleForNode } from '../scripts/bundle-engine.ts';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gifWithFrame,
  gifWithFrames,
  packBitsZeros,
  pngWithHeader,
  tiffTags,
  tiffWith,
  webpWithBitstream,
  withEmptyScans,
  withFrameSize,
  withoutRestartMarkers,
  withSampling,
  withSecondFrame,
} from '../test/security/hostile-images.ts';
import { billionLaughs, declaredSize, deepNesting, externalEntity, hugePath, useBomb, useCycle } from '../test/security/hostile-svgs.ts';
import { MUTATION_KINDS, mutate } from './mutations.ts';
import type { Outcome } from './outcome.ts';

/**
 * Seeded mutations of valid JPEG, PNG, GIF, WebP, AVIF, TIFF and SVG files, and hand-made hostile shapes, through the
 * transform pipeline. Every case must end in an image or a 4xx within its work bound — at most
 * CASE_WORK_MS in the worker thread and CASE_RSS_MIB of the process's peak RSS growth (sampled while
 * it runs) — and an ordinary image must still render after it. The cases run in a worker thread that
 * is stopped when one takes longer than CASE_DEADLINE_MS, so a hang fails this test instead of
 * stalling CI. FUZZ_CASES_PER_FILE changes the number of cases (300 a file by default).
 */
const BASES = ['gray.jpg', 'sampling-444.jpg', 'sampling-422.jpg', 'restart-420.jpg', 'progressive.jpg', 'photo-meta.jpg', 'portrait-o6.jpg', 'alpha.png', 'anim.gif', 'image.webp', 'lossless.webp', 'image.avif', 'logo.svg', 'lzw.tiff', 'tiles.tiff', 'jpeg.tiff', 'packbits-16.tiff'];
/** Bases made here with sharp (not committed): a lossless WebP and an AVIF of photo-meta.jpg, the heap-frame decoders' other paths. */
const generated: Record<string, Uint8Array> = {};
/** TIFF bases, made with sharp in beforeAll: LZW strips with a predictor, deflate tiles with alpha, JPEG tiles, 16-bit grey PackBits. */
const TIFF_BASES: Record<string, (s: Sharp) => Sharp> = {
  'lzw.tiff': (s) => s.tiff({ compression: 'lzw', predictor: 'horizontal' }),
  'tiles.tiff': (s) => s.ensureAlpha(0.5).tiff({ compression: 'deflate', tile: true, tileWidth: 32, tileHeight: 32 }),
  'jpeg.tiff': (s) => s.tiff({ compression: 'jpeg', quality: 80, tile: true, tileWidth: 64, tileHeight: 64 }),
  'packbits-16.tiff': (s) => s.toColourspace('grey16').tiff({ compression: 'packbits' }),
};
const PER_BASE = Number(process.env.FUZZ_CASES_PER_FILE ?? 300);
const CASE_DEADLINE_MS = 10_000;
/** A case's work bound: generous for a shared CI machine, far below what an unbounded decode takes (seconds, gigabytes). */
const CASE_WORK_MS = 3_000;
const CASE_RSS_MIB = 128;
const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures');

/** The worker: renderCase, then the same ordinary image, for every message. */
const WORKER_SOURCE = `
import { parentPort, workerData } from 'node:worker_threads';
import { renderCase } from './render-case.ts';
parentPort.on('message', async ({ id, bytes, transform }) => {
  const started = performance.now();
  const outcome = await renderCase(bytes, transform);
  const ms = performance.now() - started;
  const after = await renderCase(workerData.ordinary, 2);
  parentPort.postMessage({ id, outcome, ms, healthy: after.kind === 'image' });
});
`;

interface Answer {
  outcome: Outcome | { kind: 'timeout' };
  healthy: boolean;
  /** The case's time in the worker, and the process's peak RSS growth while it ran. */
  ms: number;
  rssMiB: number;
}

/** One worker thread at a time; replaced when a case overruns its deadline. */
class Runner {
  private worker: Worker | undefined;
  private next = 0;

  constructor(
    private readonly script: string,
    private readonly ordinary: Uint8Array,
  ) {}

  async run(bytes: Uint8Array, transform: number): Promise<Answer> {
    if (!this.worker) {
      // A new thread's start (its bundle, the codecs' instances) is not any case's work.
      this.worker = this.spawn();
      await this.send(this.worker, this.ordinary, 2);
    }
    return this.send(this.worker, bytes, transform);
  }

  private send(worker: Worker, bytes: Uint8Array, transform: number): Promise<Answer> {
    const id = this.next++;
    // This thread only waits meanwhile: sampling here sees the worker's peak (its heap and WebAssembly memory).
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
    const growth = () => (Math.max(peak, process.memoryUsage.rss()) - before) / 2 ** 20;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        clearInterval(sampler);
        worker.off('message', onMessage);
        void worker.terminate();
        this.worker = undefined;
        resolve({ outcome: { kind: 'timeout' }, healthy: false, ms: CASE_DEADLINE_MS, rssMiB: growth() });
      }, CASE_DEADLINE_MS);
      const onMessage = (message: { id: number; outcome: Outcome; healthy: boolean; ms: number }) => {
        if (message.id !== id) return;
        clearTimeout(timer);
        clearInterval(sampler);
        worker.off('message', onMessage);
        resolve({ ...message, rssMiB: growth() });
      };
      worker.on('message', onMessage);
      worker.postMessage({ id, bytes, transform });
    });
  }

  /** A worker whose own failure (a crash of the thread, not of a case) fails the run loudly. */
  private spawn(): Worker {
    const worker = new Worker(this.script, { workerData: { ordinary: this.ordinary } });
    worker.on('error', (error) => {
      throw error;
    });
    return worker;
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

let runner: Runner;

beforeAll(async () => {
  const outfile = join(tmpdir(), `edge-assets-decoder-fuzz-${process.pid}.mjs`);
  await bundleForNode(WORKER_SOURCE, import.meta.dirname, outfile);
  runner = new Runner(outfile, new Uint8Array(await readFile(join(fixtures, 'sampling-444.jpg'))));
  const photo = sharp(join(fixtures, 'photo-meta.jpg')).resize(64);
  generated['lossless.webp'] = new Uint8Array(await photo.clone().webp({ lossless: true }).toBuffer());
  generated['image.avif'] = new Uint8Array(await photo.clone().avif({ quality: 50, effort: 0 }).toBuffer());
  for (const [name, make] of Object.entries(TIFF_BASES)) generated[name] = new Uint8Array(await make(sharp(join(fixtures, 'photo-meta.jpg')).resize(100, 70)).toBuffer());
});

afterAll(async () => {
  await runner?.close();
});

/** An AVIF of one colour: a few hundred bytes whatever its size. */
async function flatAvif(width: number, height: number): Promise<Uint8Array> {
  return new Uint8Array(await sharp({ create: { width, height, channels: 3, background: '#3060a0' } }).avif({ quality: 30, effort: 0 }).toBuffer());
}

/** `avif` with its ispe (the size the pipeline checks) set to `width`×`height`, the AV1 frame unchanged. */
function withIspe(avif: Uint8Array, width: number, height: number): Uint8Array {
  const out = avif.slice();
  const at = Buffer.from(out).indexOf('ispe');
  new DataView(out.buffer).setUint32(at + 8, width);
  new DataView(out.buffer).setUint32(at + 12, height);
  return out;
}

function verdict(answer: Answer): string | undefined {
  const { outcome } = answer;
  if (outcome.kind === 'timeout') return `no answer within ${CASE_DEADLINE_MS} ms`;
  if (outcome.kind === 'crash') return `crashed: ${outcome.error}`;
  if (outcome.kind === 'refused' && (outcome.status < 400 || outcome.status >= 500)) return `status ${outcome.status}`;
  if (!answer.healthy) return 'the next ordinary image did not render';
  if (answer.ms > CASE_WORK_MS) return `took ${Math.round(answer.ms)} ms (bound ${CASE_WORK_MS})`;
  if (answer.rssMiB > CASE_RSS_MIB) return `grew RSS by ${Math.round(answer.rssMiB)} MiB (bound ${CASE_RSS_MIB})`;
  return undefined;
}

describe('decoder fuzz', () => {
  it('hand-made hostile headers end in a 4xx, in bounded time', async () => {
    const file = async (name: string) => new Uint8Array(await readFile(join(fixtures, name)));
    const cases: [string, Uint8Array][] = [
      ['sampling 0', withSampling(await file('gray.jpg'), 0, 0x00)],
      ['16000×16000 over a few bytes', withFrameSize(await file('gray.jpg'), 16000, 16000)],
      ['restart markers removed', withoutRestartMarkers(await file('restart-420.jpg'))],
      ['second frame', withSecondFrame(await file('sampling-444.jpg'), 32768, 32768)],
      ['GIF frame outside its screen', gifWithFrame([10, 10], [8000, 8000])],
      ['WebP bitstream outside its canvas', webpWithBitstream([10, 10], [8000, 8000])],
      ['SVG billion laughs', billionLaughs()],
      ['SVG external entity', externalEntity('http://127.0.0.1:9/xxe')],
      ['SVG declaring 100000×100000', declaredSize(100_000, 100_000)],
      ['SVG use bomb', useBomb(12, 10)],
      ['SVG reference cycle', useCycle()],
      ['SVG 10,000 nested groups', deepNesting(10_000)],
      ['TIFF 100,000,000×1 in one strip of 8 bytes', tiffWith(tiffTags(100_000_000, 1, 1, [8], [8]), new Uint8Array(8))],
      ['TIFF 16×16 in one 65536×65536 tile', tiffWith(tiffTags(16, 16, 1, [8], [8], { tile: [65536, 65536] }), new Uint8Array(8))],
      ['TIFF 1×100,000,000 in strips of one row, one listed', tiffWith(tiffTags(1, 100_000_000, 1, [8], [3], { rowsPerStrip: 1 }), new Uint8Array(3))],
      ['TIFF JPEG tile whose frame says 60000×60000', await (async () => { const jpeg = withFrameSize(await file('gray.jpg'), 60000, 60000); return tiffWith(tiffTags(64, 64, 7, [8], [jpeg.length], { tile: [64, 64] }), jpeg); })()],
      ['AVIF ispe 40×30 over a 4000×3000 frame', withIspe(await flatAvif(4000, 3000), 40, 30)],
    ];
    for (const [what, bytes] of cases) {
      const answer = await runner.run(bytes, 0);
      expect(verdict(answer), what).toBeUndefined();
      expect(answer.outcome.kind, what).toBe('refused');
    }
  });

  it('shapes whose cost is one dimension or a count end in an image or a 4xx within the work bound, with every transform', async () => {
    const file = async (name: string) => new Uint8Array(await readFile(join(fixtures, name)));
    const cases: [string, Uint8Array][] = [
      ['PNG 100,000,000×1 16-bit RGBA', pngWithHeader({ width: 100_000_000, height: 1, depth: 16, colorType: 6 })],
      ['PNG 100,000,000×1 1-bit palette', pngWithHeader({ width: 100_000_000, height: 1, depth: 1, colorType: 3 })],
      ['PNG 20,000,000×5 interlaced', pngWithHeader({ width: 20_000_000, height: 5, interlace: 1 })],
      ['PNG 1×100,000,000 16-bit RGBA', pngWithHeader({ width: 1, height: 100_000_000, depth: 16, colorType: 6 })],
      ['PNG 1×100,000,000 grey, interlaced', pngWithHeader({ width: 1, height: 100_000_000, depth: 8, colorType: 0, interlace: 1 })],
      ['JPEG 65535×1', withFrameSize(await file('gray.jpg'), 65535, 1)],
      ['JPEG 1×65535', withFrameSize(await file('gray.jpg'), 1, 65535)],
      ['progressive JPEG 65535×8', withFrameSize(await file('progressive.jpg'), 65535, 8, 0xc2)],
      ['JPEG scan flood: 10,000 empty scans', withEmptyScans(await file('progressive.jpg'), 10_000)],
      ['JPEG scan flood over 4000×4000: 150 scans', withEmptyScans(withFrameSize(await file('progressive.jpg'), 4000, 4000, 0xc2), 150)],
      ['GIF 65535×1 screen', gifWithFrame([65535, 1], [1, 1])],
      ['GIF 1×65535 frame on a 1×1 screen', gifWithFrame([1, 1], [1, 65535])],
      ['GIF frame flood: 100,000 frames', gifWithFrames([10, 10], 100_000)],
      ['WebP 16384×1', webpWithBitstream([16384, 1], [16384, 1])],
      ['WebP 1×16384 bitstream in a 1×1 canvas', webpWithBitstream([1, 1], [1, 16384])],
      ['SVG path of 150,000 segments', hugePath(150_000)],
      ['SVG 100 nested layers', deepNesting(100)],
      ['SVG declaring 65535×1', declaredSize(65535, 1)],
      ['TIFF 4000×4000 whose 63 PackBits strips share one run of zeros', tiffWith(tiffTags(4000, 4000, 32773, Array(63).fill(8), Array(63).fill(packBitsZeros(4000 * 64 * 3).length), { rowsPerStrip: 64 }), packBitsZeros(4000 * 64 * 3))],
      ['TIFF 65535×1, uncompressed', tiffWith(tiffTags(65535, 1, 1, [8], [65535 * 3]), new Uint8Array(65535 * 3))],
      ['TIFF 1×65535 in 65,535 strips of one row', tiffWith(tiffTags(1, 65535, 1, Array(65535).fill(8), Array(65535).fill(3), { rowsPerStrip: 1 }), new Uint8Array(3))],
    ];
    const failures: string[] = [];
    for (const [what, bytes] of cases) {
      for (let transform = 0; transform < 3; transform++) {
        const problem = verdict(await runner.run(bytes, transform));
        if (problem) failures.push(`${what}, transform ${transform}: ${problem}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it(`${PER_BASE} seeded mutations of each of ${BASES.length} files end in an image or a 4xx`, async () => {
    const failures: string[] = [];
    const tally = { image: 0, refused: 0 };
    for (const [b, name] of BASES.entries()) {
      const original = generated[name] ?? new Uint8Array(await readFile(join(fixtures, name)));
      for (let n = 0; n < PER_BASE; n++) {
        const kind = MUTATION_KINDS[n % MUTATION_KINDS.length] as (typeof MUTATION_KINDS)[number];
        const seed = b * 100_000 + n + 1;
        const answer = await runner.run(mutate(original, kind, seed), n);
        const problem = verdict(answer);
        if (problem) failures.push(`${name} ${kind} seed ${seed} transform ${n % 3}: ${problem}`);
        else if (answer.outcome.kind === 'image') tally.image++;
        else tally.refused++;
      }
    }
    expect(failures).toEqual([]);
    // Both outcomes happen: the mutations neither all break the files nor all miss the decoders.
    expect(tally.image).toBeGreaterThan(BASES.length * PER_BASE * 0.05);
    expect(tally.refused).toBeGreaterThan(BASES.length * PER_BASE * 0.05);
  });
});

import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../scripts/bundle-engine.ts';
import { DEFAULT_MAX_PASSES, DEFAULT_MAX_PIXELS } from '../src/config/globals.ts';
import { applyPixelOperations, operationCost, parseTransforms } from '../src/images/operations.ts';
import { bytes } from '../test/pseudo-random.ts';
import type { Outcome } from './outcome.ts';

/**
 * Seeded random `transforms` chains (1–5 operations of every kind, with sizes up to the output
 * bound and every output format) through the whole pipeline, in a worker thread. Each case must end
 * in an image or a 4xx, within a work bound: a chain the budget accepts finishes within CASE_MS and
 * raises the process's peak memory by at most CASE_MIB; a chain it refuses is answered in REFUSED_MS,
 * before anything is decoded. FUZZ_CHAINS changes the number of cases (40 by default).
 */
const CHAINS = Number(process.env.FUZZ_CHAINS ?? 40);
const SOURCES = ['sampling-444.jpg', 'alpha.png', 'progressive.jpg', 'image.webp'];
/** What the budget allows (ASSETS_TRANSFORM_MAX_PASSES over ASSETS_TRANSFORM_MAX_PIXELS, ~20 ms a pass a megapixel) and a 4 MP decode, resize and encode, with room for a loaded machine. */
const CASE_MS = 8_000;
/** ASSETS_TRANSFORM_MAX_PIXELS at the 24 bytes a pixel it is counted at, and the encoders' own. */
const CASE_MIB = Math.ceil((DEFAULT_MAX_PIXELS * 24) / 2 ** 20) + 64;
const REFUSED_MS = 500;
const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures');

/** The worker: one case, timed, with the process's peak RSS growth over it (getrusage's high-water mark). */
const WORKER_SOURCE = `
import { parentPort } from 'node:worker_threads';
import { readDimensions } from '../src/images/dimensions.ts';
import { transformImage } from '../src/images/pipeline.ts';
import { resolveTransform } from '../src/images/transform.ts';
import { AppError } from '../src/errors/app-error.ts';
const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
parentPort.on('message', async ({ id, source, query }) => {
  const before = process.memoryUsage().rss;
  const highBefore = process.resourceUsage().maxRSS * 1024;
  const started = performance.now();
  let outcome;
  try {
    const header = readDimensions(source);
    const t = resolveTransform(new URLSearchParams(query), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: 'image/' + header.format, sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
    const out = await transformImage(source, header, t, ${DEFAULT_MAX_PIXELS}, ${DEFAULT_MAX_PASSES});
    outcome = { kind: 'image', width: out.width, height: out.height };
  } catch (error) {
    outcome = error instanceof AppError && error.status < 500 ? { kind: 'refused', status: error.status, code: error.code } : { kind: 'crash', error: String(error) };
  }
  const ms = performance.now() - started;
  // What this case added to the process's high-water mark, counted from where the RSS or the mark
  // stood before it: a mark left by an earlier case (or, on a loaded CI, by garbage not yet collected)
  // is not this case's; a runaway decode (gigabytes) still raises it far past the bound.
  const peakMiB = Math.max(0, process.resourceUsage().maxRSS * 1024 - Math.max(before, highBefore)) / 2 ** 20;
  parentPort.postMessage({ id, outcome, ms, peakMiB });
});
`;

type Answer = { outcome: Outcome; ms: number; peakMiB: number } | { outcome: { kind: 'timeout' }; ms: number; peakMiB: number };

let worker: Worker | undefined;
let script = '';
let next = 0;

/** One case in the worker; a case past twice its bound stops the worker (and fails), so a runaway cannot stall the suite. */
function run(source: Uint8Array, query: string): Promise<Answer> {
  const w = (worker ??= new Worker(script));
  const id = next++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      w.off('message', onMessage);
      void w.terminate();
      worker = undefined;
      resolve({ outcome: { kind: 'timeout' }, ms: 2 * CASE_MS, peakMiB: 0 });
    }, 2 * CASE_MS);
    const onMessage = (m: { id: number } & Answer) => {
      if (m.id !== id) return;
      clearTimeout(timer);
      w.off('message', onMessage);
      resolve(m);
    };
    w.on('message', onMessage);
    w.postMessage({ id, source, query });
  });
}

beforeAll(async () => {
  script = join(tmpdir(), `edge-assets-transforms-fuzz-${process.pid}.mjs`);
  await bundleForNode(WORKER_SOURCE, import.meta.dirname, script);
});

afterAll(async () => {
  await worker?.terminate();
});

/** A seeded chain: its query and the passes the budget counts for it. */
function chain(seed: number): { query: string; passes: number } {
  const r = bytes(32, seed);
  let at = 0;
  const pick = <T>(list: readonly T[]): T => list[(r[at++] as number) % list.length] as T;
  const sigma = (max: number) => Math.max(0.3, Math.round(((r[at++] as number) / 255) * max * 10) / 10);
  const makers: (() => unknown[])[] = [
    () => ['blur', pick([0.3, 2, sigma(50), 1000])],
    () => ['sharpen'],
    () => ['sharpen', { sigma: sigma(10) }],
    () => ['grayscale'],
    () => ['negate', { alpha: pick([true, false]) }],
    () => ['tint', pick(['#3060ff', '#f00', '#000000'])],
    () => ['modulate', { brightness: pick([0.5, 1, 2]), saturation: pick([0, 1, 3]), hue: pick([0, 90, -720]), lightness: pick([0, 10]) }],
    () => ['rotate', pick([90, 180, -90])],
    () => ['flip'],
  ];
  const list = Array.from({ length: 1 + ((r[at++] as number) % 5) }, () => pick(makers)());
  const width = pick([16, 400, 1000, 1600, 2300, 2300]);
  const height = pick([undefined, undefined, 40, 300, 1725]);
  const fit = pick(['cover', 'inside']);
  const format = pick(['jpg', 'png', 'webp', width <= 1000 ? 'avif' : 'webp']);
  const query = `width=${width}${height ? `&height=${height}&fit=${fit}` : ''}&format=${format}&transforms=${encodeURIComponent(JSON.stringify(list))}`;
  const passes = parseTransforms(JSON.stringify(list), 5).reduce((sum, o) => sum + operationCost(o).passes, 0);
  return { query, passes };
}

function verdict(a: Answer): string | undefined {
  const { outcome } = a;
  if (outcome.kind === 'timeout') return `no answer within ${2 * CASE_MS} ms`;
  if (outcome.kind === 'crash') return `crashed: ${outcome.error}`;
  if (outcome.kind === 'refused' && outcome.status !== 400) return `status ${outcome.status} (${outcome.code})`;
  if (outcome.kind === 'refused' && a.ms > REFUSED_MS) return `refused after ${Math.round(a.ms)} ms (bound ${REFUSED_MS})`;
  if (a.ms > CASE_MS) return `took ${Math.round(a.ms)} ms (bound ${CASE_MS})`;
  if (a.peakMiB > CASE_MIB) return `raised the peak RSS by ${Math.round(a.peakMiB)} MiB (bound ${CASE_MIB})`;
  return undefined;
}

describe('transforms fuzz', () => {
  it(`${CHAINS} seeded operation chains end in an image or a 400, within their work bound`, async () => {
    const sources = await Promise.all(SOURCES.map(async (name) => new Uint8Array(await readFile(join(fixtures, name)))));
    const failures: string[] = [];
    const tally = { image: 0, refused: 0 };
    for (let n = 0; n < CHAINS; n++) {
      const { query, passes } = chain(n + 1);
      const answer = await run(sources[n % sources.length] as Uint8Array, query);
      const problem = verdict(answer);
      if (problem) failures.push(`${SOURCES[n % SOURCES.length]} ?${decodeURIComponent(query)} (${passes} passes): ${problem}`);
      else tally[answer.outcome.kind === 'image' ? 'image' : 'refused']++;
    }
    expect(failures).toEqual([]);
    // The chains reach both sides of the budget.
    expect(tally.image).toBeGreaterThan(CHAINS * 0.2);
    expect(tally.refused).toBeGreaterThan(CHAINS * 0.05);
  });

  it('the worst chains of the report are refused before decoding', async () => {
    const source = new Uint8Array(await readFile(join(fixtures, 'sampling-444.jpg')));
    const five = (op: unknown[]) => encodeURIComponent(JSON.stringify(Array.from({ length: 5 }, () => op)));
    for (const query of [`width=2300&format=png&transforms=${five(['sharpen', 10])}`, `width=2000&format=jpg&transforms=${five(['blur', 1000])}`, `width=1150&format=avif&transforms=${five(['sharpen', 10])}`]) {
      const answer = await run(source, query);
      expect(answer.outcome, query).toMatchObject({ kind: 'refused', status: 400, code: 'INVALID_QUERY' });
      expect(verdict(answer), query).toBeUndefined();
    }
  });
});

/**
 * The operations rewritten for the budget (Float32 planes, integer box sums, colour by table)
 * against sharp's on the same pixels, beyond the sigmas the pipeline's reference test covers.
 */
describe('operations against sharp', () => {
  const meanDifference = (a: Uint8Array, b: Uint8Array) => a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] as number)), 0) / a.length;
  const raw = async (s: Sharp) => new Uint8Array(await s.toColourspace('srgb').ensureAlpha().raw().toBuffer());
  const cases: [string, (s: Sharp) => Sharp, number][] = [
    ['[["blur",30]]', (s) => s.blur(30), 3],
    ['[["blur",1.5]]', (s) => s.blur(1.5), 3],
    ['[["sharpen",{"sigma":0.5}]]', (s) => s.sharpen({ sigma: 0.5 }), 3],
    ['[["sharpen",{"sigma":8}]]', (s) => s.sharpen({ sigma: 8 }), 3],
    ['[["tint","#f04000"]]', (s) => s.tint('#f04000'), 6],
    ['[["modulate",{"brightness":0.7,"saturation":2,"hue":200}]]', (s) => s.modulate({ brightness: 0.7, saturation: 2, hue: 200 }), 6],
  ];
  for (const [transforms, apply, bound] of cases) {
    it(`transforms=${transforms} is close to sharp's`, async () => {
      // A photo with grain: every operation has detail to act on.
      const [width, height] = [300, 200];
      const grain = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
      const file = await sharp(join(fixtures, 'photo-meta.jpg')).resize({ width, height, fit: 'fill' }).composite([{ input: grain, blend: 'overlay' }]).png().toBuffer();
      const mine = await raw(sharp(file));
      applyPixelOperations(mine, width as number, height as number, parseTransforms(transforms, 5));
      const theirs = await raw(apply(sharp(file)));
      const untouched = await raw(sharp(file));
      expect(meanDifference(mine, theirs)).toBeLessThan(bound);
      // Where sharp moved pixels, ours moved them most of the way with it.
      expect(meanDifference(mine, theirs)).toBeLessThan(0.5 * meanDifference(untouched, theirs));
    });
  }
});

/**
 * `BENCH_CASES=svg`: an SVG thumbnail's cache miss over HTTP (a new file each round, so every level
 * misses) against sharp (librsvg through libvips, what Directus runs) rendering the same bytes to the
 * same size in this process; the engine alone in this process against sharp; and how long a hostile
 * SVG takes to be refused, against the Worker's cheapest answer (a 404). Sources: the hand-written
 * logo of the tests, and a generated illustration (600 curved paths, gradients, groups with opacity).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { billionLaughs, hugePath, useBomb } from '../test/security/hostile-svgs.ts';
import { loadEngine } from './bundle-engine.ts';
import { type LocalStack, STACK_TOKEN, startLocalStack } from './local-stack.ts';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const ms = (n: number) => +n.toFixed(1);

/** 600 cubic-curve paths over a gradient, in 20 groups with opacity: a busy illustration. */
function illustration(): Uint8Array {
  const paths: string[] = [];
  let seed = 7;
  const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 1000;
  for (let g = 0; g < 20; g++) {
    paths.push(`<g opacity="0.${(g % 8) + 2}" fill="hsl(${g * 18},70%,50%)">`);
    for (let p = 0; p < 30; p++) paths.push(`<path d="M${r()} ${r()} C${r()} ${r()} ${r()} ${r()} ${r()} ${r()} S${r()} ${r()} ${r()} ${r()} Z" stroke="#222" stroke-width="2"/>`);
    paths.push('</g>');
  }
  return new TextEncoder().encode(
    `<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000" viewBox="0 0 1000 1000"><defs><linearGradient id="bg"><stop offset="0" stop-color="#123"/><stop offset="1" stop-color="#9cf"/></linearGradient></defs><rect width="1000" height="1000" fill="url(#bg)"/>${paths.join('')}</svg>`,
  );
}

const CASES = [
  { name: 'logo_240x160_width_800_png', source: new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'logo.svg'))), width: 800, declared: 240, format: 'png' as const },
  { name: 'illustration_1000x1000_width_400_webp', source: illustration(), width: 400, declared: 1000, format: 'webp' as const },
  { name: 'illustration_1000x1000_width_1000_png', source: illustration(), width: 1000, declared: 1000, format: 'png' as const },
];

/** sharp's render of the same request: librsvg draws at the density that gives the width, libvips encodes. */
function theirs(c: (typeof CASES)[number]): Promise<Buffer> {
  const s = sharp(Buffer.from(c.source), { density: (72 * c.width) / c.declared }).resize({ width: c.width });
  return (c.format === 'png' ? s.png() : s.webp({ quality: 80 })).toBuffer();
}

async function upload(stack: LocalStack, bytes: Uint8Array, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/svg+xml' }), name);
  const res = await fetch(`${stack.base}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${STACK_TOKEN}` } });
  if (!res.ok) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { id: string } }).data.id;
}

export async function benchSvg(rounds: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const stack = await startLocalStack();
  try {
    for (const c of CASES) {
      const sharpMs: number[] = [];
      const workerMs: number[] = [];
      let status = 0;
      for (let i = 0; i < rounds + 1; i++) {
        let t0 = performance.now();
        await theirs(c);
        if (i > 0) sharpMs.push(performance.now() - t0);
        const id = await upload(stack, c.source, `${c.name}.svg`);
        t0 = performance.now();
        const res = await fetch(`${stack.base}/assets/${id}?width=${c.width}&format=${c.format}`);
        await res.arrayBuffer();
        status = res.status;
        // The first round warms the isolate (resvg's module is instantiated on first use).
        if (i > 0) workerMs.push(performance.now() - t0);
      }
      out[c.name] = { status, sharp_ms: ms(median(sharpMs)), worker_miss_ms: ms(median(workerMs)), ratio_to_sharp: +(median(workerMs) / median(sharpMs)).toFixed(2) };
    }
    const hostile = { billion_laughs: billionLaughs(), use_bomb_10e12: useBomb(12, 10), path_150000_segments: hugePath(150_000) };
    const floor: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await (await fetch(`${stack.base}/__floor`)).arrayBuffer();
      floor.push(performance.now() - t0);
    }
    const refusals: Record<string, unknown> = { floor_404_ms: ms(median(floor)) };
    for (const [name, bytes] of Object.entries(hostile)) {
      const id = await upload(stack, bytes, `${name}.svg`);
      const t0 = performance.now();
      const res = await fetch(`${stack.base}/assets/${id}?width=40&format=png`);
      await res.arrayBuffer();
      refusals[name] = { status: res.status, ms: ms(performance.now() - t0) };
    }
    out.refusals = refusals;
  } finally {
    await stack.stop();
  }
  out.engine_only = await engineOnly();
  return out;
}

/** The engine alone, bundled for Node as wrangler bundles it, against sharp: warmed up, median of 20. */
async function engineOnly(): Promise<Record<string, unknown>> {
  const engine = await loadEngine('svg');
  const out: Record<string, unknown> = {};
  for (const c of CASES) {
    const header = engine.readDimensions(c.source);
    const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
    const t = engine.resolveTransform(new URLSearchParams(`width=${c.width}&format=${c.format}`), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: 'image/svg+xml', sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
    const ours: number[] = [];
    const other: number[] = [];
    for (let i = 0; i < 23; i++) {
      let t0 = performance.now();
      await engine.transformImage(c.source, header, t, 4_000_000);
      if (i >= 3) ours.push(performance.now() - t0);
      t0 = performance.now();
      await theirs(c);
      if (i >= 3) other.push(performance.now() - t0);
    }
    out[c.name] = { engine_ms: ms(median(ours)), sharp_ms: ms(median(other)), ratio_to_sharp: +(median(ours) / median(other)).toFixed(2) };
  }
  return out;
}

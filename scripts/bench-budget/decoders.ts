import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { BudgetCase } from '../bench-budget-case.ts';
import { STACK_TOKEN } from '../local-stack.ts';
import { gifWithFrames, pngWithHeader, type PngShape, withEmptyScans } from '../../test/security/hostile-images.ts';

/**
 * The decoders' worst cases (issue #24): PNGs giant in one dimension (74 bytes each), a 100 MP 16-bit
 * RGBA interlaced PNG of Paeth rows (within the limits: the README's time promise), JPEG scan floods
 * and a GIF frame flood, each a system thumbnail or a height asked for anonymously. A request that
 * takes longer than CAP_MS is reported as "> CAP_MS".
 */
const CAP_MS = 60_000;
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** Every row of every pass: its filter byte, then zeros — as small as deflate makes it. */
function rowsPng(shape: Required<PngShape>, filter: number): Uint8Array {
  const bits = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[shape.colorType as 0 | 2 | 3 | 4 | 6] * shape.depth;
  const passes = (shape.interlace ? ADAM7 : [[0, 0, 1, 1]]).map(([x0, y0, dx, dy]) => ({ w: Math.ceil((shape.width - x0!) / dx!), h: Math.ceil((shape.height - y0!) / dy!) }));
  const total = passes.reduce((n, p) => (p.w > 0 && p.h > 0 ? n + p.h * (Math.ceil((p.w * bits) / 8) + 1) : n), 0);
  const raw = Buffer.alloc(total);
  let at = 0;
  for (const p of passes) {
    if (p.w <= 0 || p.h <= 0) continue;
    for (let y = 0; y < p.h; y++, at += Math.ceil((p.w * bits) / 8) + 1) raw[at] = filter;
  }
  return pngWithHeader(shape, deflateSync(raw, { level: 9 }));
}

async function upload(base: string, name: string, bytes: Uint8Array): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([Uint8Array.from(bytes)]), name);
  const res = await fetch(`${base}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${STACK_TOKEN}` } });
  if (!res.ok) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { id: string } }).data.id;
}

const decoders: BudgetCase = async (stack, peak) => {
  const progressive = async (size: number) => new Uint8Array(await sharp({ create: { width: size, height: size, channels: 3, background: '#808080' } }).jpeg({ progressive: true }).toBuffer());
  const cases: [string, () => Promise<Uint8Array> | Uint8Array, string, string][] = [
    ['png_100000000x1_rgba16', () => pngWithHeader({ width: 100_000_000, height: 1, depth: 16, colorType: 6 }), 'png', 'key=system-small-contain'],
    ['png_1x100000000_rgba16', () => pngWithHeader({ width: 1, height: 100_000_000, depth: 16, colorType: 6 }), 'png', 'height=64'],
    ['png_10000x10000_rgba16_adam7_paeth', () => rowsPng({ width: 10_000, height: 10_000, depth: 16, colorType: 6, interlace: 1 }, 4), 'png', 'key=system-small-contain'],
    ['png_10000x10000_rgba8_paeth', () => rowsPng({ width: 10_000, height: 10_000, depth: 8, colorType: 6, interlace: 0 }, 4), 'png', 'key=system-small-contain'],
    ['jpeg_2000_progressive_10000_scans', async () => withEmptyScans(await progressive(2000), 10_000), 'jpg', 'key=system-small-cover'],
    ['jpeg_4000_progressive_5000_scans', async () => withEmptyScans(await progressive(4000), 5_000), 'jpg', 'key=system-small-cover'],
    ['gif_100000_frames', () => gifWithFrames([1000, 1000], 100_000), 'gif', 'key=system-small-cover'],
  ];
  const out: Record<string, unknown> = {};
  for (const [name, make, ext, query] of cases) {
    const bytes = await make();
    const id = await upload(stack.base, `${name}.${ext}`, bytes);
    const started = performance.now();
    const { result, before, peak: top } = await peak(async () => {
      try {
        const res = await fetch(`${stack.base}/assets/${id}?${query}`, { signal: AbortSignal.timeout(CAP_MS) });
        const body = await res.text();
        return { status: res.status, message: res.ok ? undefined : body.slice(0, 200) };
      } catch {
        return { status: 0, message: `no answer within ${CAP_MS} ms` };
      }
    });
    const ms = performance.now() - started;
    out[name] = { bytes: bytes.byteLength, status: result.status, ms: ms >= CAP_MS ? `> ${CAP_MS}` : Math.round(ms), rssGrowthMiB: Math.round((top - before) / 2 ** 20), message: result.message };
  }
  return out;
};

export default decoders;

/**
 * The `bigimg` bench case (#25): cache-miss work for large WebP and AVIF sources, the engine alone in
 * this process (bundled for Node as wrangler bundles it) against sharp (libvips) on the same bytes,
 * both warmed up, median of BENCH_ENGINE_RUNS (10): a 12 MP lossy WebP → 400 px JPEG (target ≤ 3×),
 * a 6 MP 4:2:0 AVIF → 400 px JPEG at a 5 MP budget (at the default 4 MP its heap is refused), and a
 * 12 MP AVIF, whose answer is the 422 naming its heap (its time beside sharp's thumbnail of it).
 */
import sharp from 'sharp';
import { loadEngine } from './bundle-engine.ts';

/** A photo-like source: blurred noise, so the codecs see texture and not a flat field. */
const photo = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(8)
    .png()
    .toBuffer();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function benchBigimg(): Promise<Record<string, unknown>> {
  const engine = await loadEngine('bigimg');
  const twelve = await photo(4000, 3000);
  const six = await photo(3000, 2000);
  const cases = [
    { name: 'webp_12mp_lossy_to_400', source: await sharp(twelve).webp({ quality: 80 }).toBuffer(), maxPixels: 4_000_000, target: 3 },
    { name: 'avif_6mp_420_to_400', source: await sharp(six).avif({ quality: 50, chromaSubsampling: '4:2:0' }).toBuffer(), maxPixels: 5_000_000, target: 3 },
    { name: 'avif_12mp_420_to_400', source: await sharp(twelve).avif({ quality: 50, chromaSubsampling: '4:2:0' }).toBuffer(), maxPixels: 4_000_000, target: 3 },
  ];
  const runs = Number(process.env.BENCH_ENGINE_RUNS ?? 10);
  const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
  const out: Record<string, unknown> = {};
  for (const c of cases) {
    const bytes = new Uint8Array(c.source);
    const header = engine.readDimensions(bytes);
    const t = engine.resolveTransform(new URLSearchParams('width=400&format=jpg'), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: `image/${header.format}`, sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
    const ours: number[] = [];
    const theirs: number[] = [];
    let answer = '';
    for (let i = 0; i < runs + 2; i++) {
      let t0 = performance.now();
      answer = await engine.transformImage(bytes, header, t, c.maxPixels).then(
        (r: { width: number; height: number }) => `${r.width}×${r.height}`,
        (e: Error) => `422: ${e.message}`,
      );
      if (i >= 2) ours.push(performance.now() - t0);
      t0 = performance.now();
      await sharp(c.source).resize({ width: 400 }).jpeg({ quality: 80 }).toBuffer();
      if (i >= 2) theirs.push(performance.now() - t0);
    }
    out[c.name] = { bytes: c.source.byteLength, answer, engine_ms: +median(ours).toFixed(1), sharp_ms: +median(theirs).toFixed(1), ratio_to_sharp: +(median(ours) / median(theirs)).toFixed(2), target_ratio: c.target };
  }
  return out;
}

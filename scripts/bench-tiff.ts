/**
 * `BENCH_CASES=tiff`: the miss time of a 24 MP (6000×4000) TIFF → 400 px JPEG, the engine in this
 * process (bundled as wrangler bundles it) against sharp on the same bytes, both warmed up, median of
 * BENCH_TIFF_RUNS (5). Three layouts: deflate strips with a predictor (libtiff's default strips),
 * LZW 256×256 tiles, JPEG strips (what scanners and cameras write). Also `format=tiff` of the
 * 400 px result: our encoder's time and bytes against sharp's deflate TIFF.
 */
import sharp, { type Sharp } from 'sharp';
import { loadEngine } from './bundle-engine.ts';

const WIDTH = 6000;
const HEIGHT = 4000;

const LAYOUTS: [string, (s: Sharp) => Sharp][] = [
  ['deflate_strips_predictor', (s) => s.tiff({ compression: 'deflate', predictor: 'horizontal' })],
  ['lzw_tiles_256', (s) => s.tiff({ compression: 'lzw', tile: true, tileWidth: 256, tileHeight: 256 })],
  ['jpeg_strips_q90', (s) => s.tiff({ compression: 'jpeg', quality: 90 })],
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function timeOf(fn: () => Promise<unknown>, runs: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    await fn();
    if (i > 0) ms.push(performance.now() - t0);
  }
  return median(ms);
}

export async function benchTiff() {
  const engine = await loadEngine('tiff');
  const runs = Number(process.env.BENCH_TIFF_RUNS ?? 5);
  // A photo-like source: smooth gradients with noise, as the thumbnails case makes.
  const photo = await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(1.2)
    .raw()
    .toBuffer();
  const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
  const transform = (format: string) =>
    engine.resolveTransform(new URLSearchParams(`width=400&format=${format}`), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: 'image/tiff', sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
  const out: Record<string, unknown> = { source: `${WIDTH}x${HEIGHT}`, runs };
  for (const [name, make] of LAYOUTS) {
    const file = await make(sharp(photo, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })).toBuffer();
    const bytes = new Uint8Array(file);
    const header = engine.readDimensions(bytes);
    const t = transform('jpg');
    const ours = await timeOf(() => engine.transformImage(bytes, header, t, 4_000_000), runs);
    const theirs = await timeOf(() => sharp(file).resize({ width: 400 }).jpeg({ quality: 80 }).toBuffer(), runs);
    out[name] = { file_mib: +(file.byteLength / 2 ** 20).toFixed(1), engine_ms: +ours.toFixed(0), sharp_ms: +theirs.toFixed(0), ratio_to_sharp: +(ours / theirs).toFixed(2) };
  }
  // format=tiff: the 400 px thumbnail of the JPEG-compressed source, as a TIFF.
  const source = await sharp(photo, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).resize({ width: 1600 }).tiff({ compression: 'none' }).toBuffer();
  const small = new Uint8Array(source);
  const t = transform('tiff');
  let ourBytes = 0;
  const ours = await timeOf(async () => (ourBytes = (await engine.transformImage(small, engine.readDimensions(small), t, 4_000_000)).body.byteLength), runs);
  let theirBytes = 0;
  const theirs = await timeOf(async () => (theirBytes = (await sharp(source).resize({ width: 400 }).tiff({ compression: 'deflate', predictor: 'horizontal' }).toBuffer()).byteLength), runs);
  out.format_tiff_1600_to_400 = { engine_ms: +ours.toFixed(1), sharp_ms: +theirs.toFixed(1), ratio_to_sharp: +(ours / theirs).toFixed(2), bytes: ourBytes, sharp_bytes: theirBytes, bytes_ratio: +(ourBytes / theirBytes).toFixed(2) };
  return out;
}

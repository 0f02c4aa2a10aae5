/**
 * `BENCH_CASES=bytes`: the bytes a thumbnail costs at equal quality, against sharp (libvips with
 * libjpeg-turbo, libwebp and libaom: what Directus runs). Each pipeline's lossy output is scored by
 * luma SSIM against its own lossless resize (PNG), so the two resize filters do not count. For each
 * of sharp's qualities, our quality is swept and our bytes are read off our curve at sharp's SSIM:
 * ratio < 1 is fewer bytes for the same SSIM. Real photos (test/fixtures/photos, CC0 and public
 * domain) at 400 and 800 wide; the engine runs in this process, bundled as wrangler bundles it.
 * Also the time a JPEG encode takes at each size: MozJPEG (ours), photon's encoder (before) and
 * sharp's whole resize + encode.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadEngine } from './bundle-engine.ts';
import { lumaSsim, type Raw } from './ssim.ts';

const PHOTOS = join(import.meta.dirname, '..', 'test', 'fixtures', 'photos');
/** Photo and output width: every source at 400; the sources wide enough at 800. */
const CASES: [string, number][] = [
  ['coffee', 400],
  ['astronaut', 400],
  ['chelsea', 400],
  ['retina', 400],
  ['hubble', 400],
  ['retina', 800],
  ['hubble', 800],
];
const SHARP_QUALITIES = [50, 80, 90];
/** Our qualities, fine enough that interpolating between two of them is within a fraction of a percent. */
const SWEEP = Array.from({ length: 36 }, (_, i) => 25 + i * 2).concat([97, 98, 99]);
type Format = 'jpg' | 'webp' | 'avif';
/** `BENCH_BYTES_FORMATS=jpg` measures one format (AVIF's sweep is most of the case's time). */
const FORMATS = (process.env.BENCH_BYTES_FORMATS ?? 'jpg,webp,avif').split(',') as Format[];
const TARGET: Record<Format, number> = { jpg: 1.0, webp: 1.05, avif: 1.05 };

type Point = { quality: number; bytes: number; ssim: number };

async function raw(bytes: Uint8Array | Buffer): Promise<Raw> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

/** Our bytes where our SSIM curve (bytes rising with SSIM) reaches `ssim`, interpolated linearly; undefined past its ends. */
export function bytesAt(curve: Point[], ssim: number): number | undefined {
  const sorted = [...curve].sort((a, b) => a.ssim - b.ssim);
  for (let i = 1; i < sorted.length; i++) {
    const lo = sorted[i - 1] as Point;
    const hi = sorted[i] as Point;
    if (lo.ssim <= ssim && ssim <= hi.ssim) return hi.ssim === lo.ssim ? lo.bytes : lo.bytes + ((ssim - lo.ssim) / (hi.ssim - lo.ssim)) * (hi.bytes - lo.bytes);
  }
  return undefined;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const round = (n: number, d = 3) => +n.toFixed(d);

export async function benchBytes(): Promise<Record<string, unknown>> {
  const engine = await loadEngine('bytes', "export { encodeJpeg } from './src/images/jpeg-encode.ts'; export { PhotonImage } from '@cf-wasm/photon';");
  const render = async (source: Uint8Array, query: string) => {
    const header = engine.readDimensions(source);
    const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
    const t = engine.resolveTransform(new URLSearchParams(query), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: 'image/jpeg', sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
    return (await engine.transformImage(source, header, t, 4_000_000)).body as Uint8Array;
  };

  const rows: Record<string, unknown>[] = [];
  const ratios: Record<Format, number[]> = { jpg: [], webp: [], avif: [] };
  const timing: Record<string, unknown> = {};
  for (const [photo, width] of CASES) {
    const source = new Uint8Array(readFileSync(join(PHOTOS, `${photo}.jpg`)));
    const sharpRef = await raw(await sharp(source).resize(width).png().toBuffer());
    const oursRef = await raw(await render(source, `width=${width}&format=png`));
    for (const format of FORMATS) {
      const curve: Point[] = [];
      for (const quality of SWEEP) {
        const bytes = await render(source, `width=${width}&format=${format}&quality=${quality}`);
        curve.push({ quality, bytes: bytes.byteLength, ssim: lumaSsim(oursRef, await raw(bytes)) });
      }
      for (const quality of SHARP_QUALITIES) {
        const theirs = await sharp(source).resize(width).toFormat(format === 'jpg' ? 'jpeg' : format, { quality }).toBuffer();
        const ssim = lumaSsim(sharpRef, await raw(theirs));
        const same = curve.find((p) => p.quality === quality) ?? (await (async () => {
          const b = await render(source, `width=${width}&format=${format}&quality=${quality}`);
          return { quality, bytes: b.byteLength, ssim: lumaSsim(oursRef, await raw(b)) };
        })());
        const equal = bytesAt(curve, ssim);
        if (equal !== undefined) ratios[format].push(equal / theirs.byteLength);
        rows.push({
          photo,
          width,
          format,
          quality,
          sharp_bytes: theirs.byteLength,
          sharp_ssim: round(ssim, 4),
          ours_bytes_same_quality: same.bytes,
          ours_ssim_same_quality: round(same.ssim, 4),
          ours_bytes_equal_ssim: equal === undefined ? null : Math.round(equal),
          ratio_equal_ssim: equal === undefined ? null : round(equal / theirs.byteLength),
        });
      }
    }
    // Encode time at quality 80 on the same resized pixels: MozJPEG, photon's encoder (what ran before), sharp's whole job.
    const pixels = await sharp(source).resize(width).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgba = new Uint8Array(pixels.data);
    const { width: w, height: h } = pixels.info;
    const runs = Number(process.env.BENCH_ENGINE_RUNS ?? 20);
    const time = async (fn: () => unknown) => {
      const v: number[] = [];
      for (let i = 0; i < runs + 3; i++) {
        const t0 = performance.now();
        await fn();
        if (i >= 3) v.push(performance.now() - t0);
      }
      return round(median(v), 1);
    };
    const photon = new engine.PhotonImage(rgba, w, h);
    timing[`${photo}_${width}`] = {
      mozjpeg_encode_ms: await time(() => engine.encodeJpeg(rgba, w, h, 80)),
      photon_encode_ms: await time(() => photon.get_bytes_jpeg(80)),
      sharp_resize_and_encode_ms: await time(() => sharp(source).resize(width).jpeg({ quality: 80 }).toBuffer()),
    };
    photon.free();
  }
  const summary = Object.fromEntries(
    FORMATS.map((f) => [f, { min: round(Math.min(...ratios[f])), median: round(median(ratios[f])), max: round(Math.max(...ratios[f])), cases: ratios[f].length, target_max: TARGET[f] }]),
  );
  return { summary, encode_time_q80: timing, rows };
}

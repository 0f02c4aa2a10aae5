import sharp from 'sharp';

/** An encoded image read back by sharp as sRGB RGBA. */
export async function rgba(file: Buffer | Uint8Array): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(file).ensureAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/** Mean absolute difference of premultiplied RGBA, in levels of 255. */
export function meanDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 4) {
    const aa = a[i + 3] as number;
    const ba = b[i + 3] as number;
    for (let c = 0; c < 3; c++) sum += Math.abs(((a[i + c] as number) * aa) / 255 - ((b[i + c] as number) * ba) / 255);
    sum += Math.abs(aa - ba);
  }
  return sum / a.length;
}

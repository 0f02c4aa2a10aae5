import type { Transform } from './transform';

export interface Plan {
  /** Size to resize the whole (displayed) image to. */
  width: number;
  height: number;
  /** Then the part to keep (cover only). */
  crop: { left: number; top: number; width: number; height: number } | undefined;
}

/**
 * Where the pixels go, in the image's displayed orientation. Never stretches: the aspect ratio is
 * kept and `cover` crops (around the focal point when there is one, else the centre). With only
 * one side given the other follows the aspect ratio. `withoutEnlargement` caps the scale at 1.
 */
export function plan(srcWidth: number, srcHeight: number, t: Transform): Plan {
  const w = t.width;
  const h = t.height;
  let scale: number;
  if (w === undefined && h === undefined) scale = 1;
  else if (w === undefined) scale = (h as number) / srcHeight;
  else if (h === undefined) scale = w / srcWidth;
  else if (t.fit === 'cover' || t.fit === 'outside') scale = Math.max(w / srcWidth, h / srcHeight);
  else scale = Math.min(w / srcWidth, h / srcHeight);
  if (t.withoutEnlargement && scale > 1) scale = 1;

  const width = Math.max(1, Math.round(srcWidth * scale));
  const height = Math.max(1, Math.round(srcHeight * scale));
  if (t.fit !== 'cover' || w === undefined || h === undefined) return { width, height, crop: undefined };

  const cropWidth = Math.min(w, width);
  const cropHeight = Math.min(h, height);
  const centreX = t.focalPointX !== undefined ? t.focalPointX * scale : width / 2;
  const centreY = t.focalPointY !== undefined ? t.focalPointY * scale : height / 2;
  const left = Math.round(Math.min(Math.max(centreX - cropWidth / 2, 0), width - cropWidth));
  const top = Math.round(Math.min(Math.max(centreY - cropHeight / 2, 0), height - cropHeight));
  return { width, height, crop: { left, top, width: cropWidth, height: cropHeight } };
}

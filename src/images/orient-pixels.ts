import { PhotonImage } from '@cf-wasm/photon';

// EXIF orientations applied to decoded pixels, and their inverse for a crop cut before the turn (./pipeline.ts).

/**
 * A rectangle of the displayed image (after orientation) in the stored image's coordinates, both at
 * the target scale: the inverse of `orient`, so a crop can be cut before the pixels are turned.
 */
export function storedRect(r: { left: number; top: number; width: number; height: number }, orientation: number, stored: { width: number; height: number }) {
  const { width: w, height: h } = stored;
  const map = (x: number, y: number): [number, number] => {
    switch (orientation) {
      case 2: return [w - x, y];
      case 3: return [w - x, h - y];
      case 4: return [x, h - y];
      case 5: return [y, x];
      case 6: return [y, h - x];
      case 7: return [w - y, h - x];
      case 8: return [w - y, x];
      default: return [x, y];
    }
  };
  const [ax, ay] = map(r.left, r.top);
  const [bx, by] = map(r.left + r.width, r.top + r.height);
  return { left: Math.min(ax, bx), top: Math.min(ay, by), width: Math.abs(bx - ax), height: Math.abs(by - ay) };
}

/** EXIF orientations 2–8 applied to RGBA pixels (TIFF 6.0 / EXIF 2.32 tag 0x0112). */
export function orient(img: PhotonImage, orientation: number): PhotonImage {
  const w = img.get_width();
  const h = img.get_height();
  const src = new Uint32Array(img.get_raw_pixels().buffer);
  const swapped = orientation >= 5;
  const ow = swapped ? h : w;
  const oh = swapped ? w : h;
  const out = new Uint32Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: [sx, sy] = [w - 1 - x, y]; break;
        case 3: [sx, sy] = [w - 1 - x, h - 1 - y]; break;
        case 4: [sx, sy] = [x, h - 1 - y]; break;
        case 5: [sx, sy] = [y, x]; break;
        case 6: [sx, sy] = [y, h - 1 - x]; break;
        case 7: [sx, sy] = [w - 1 - y, h - 1 - x]; break;
        default: [sx, sy] = [w - 1 - y, x]; break; // 8
      }
      out[y * ow + x] = src[sy * w + sx] as number;
    }
  }
  return new PhotonImage(new Uint8Array(out.buffer), ow, oh);
}

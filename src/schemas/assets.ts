import * as z from 'zod/mini';

// `/assets` query parameters, parsed by resolveTransform (src/images/transform.ts) and the signed-URL
// check (src/assets/signing.ts); described here for the document.

const int = z.string().check(z.regex(/^\d+$/));

export const assetParameters = {
  key: { schema: z.string(), description: 'A preset (Settings `storage_asset_presets`, or a system preset).' },
  width: { schema: int, description: 'Width in pixels (alias `w`).' },
  height: { schema: int, description: 'Height in pixels (alias `h`).' },
  fit: { schema: z.enum(['cover', 'contain', 'inside', 'outside']), description: 'How the image fits width × height (alias `f`).' },
  quality: { schema: int, description: '1 to 100 (alias `q`).' },
  format: { schema: z.enum(['jpg', 'jpeg', 'png', 'webp', 'avif', 'tiff', 'auto']), description: '`auto` picks from Accept.' },
  withoutEnlargement: { schema: z.enum(['true', 'false']), description: 'Never upscale.' },
  focal_point_x: { schema: int, description: 'The cover crop\'s centre (default: the file\'s).' },
  focal_point_y: { schema: int, description: 'The cover crop\'s centre (default: the file\'s).' },
  transforms: { schema: z.string(), description: 'Directus `transforms` as JSON: `[["blur", 4], ["rotate", 90]]`.' },
  download: { schema: z.string(), description: 'Present: `Content-Disposition: attachment`.' },
  expires: { schema: int, description: 'A signed URL\'s expiry (seconds since 1970), from GET /files/{id}/sign.' },
  signature: { schema: z.string(), description: 'A signed URL\'s signature, from GET /files/{id}/sign.' },
} as const;

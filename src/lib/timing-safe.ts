const encoder = new TextEncoder();

/**
 * Compares two secrets in constant time. Both sides are hashed first, so neither the length nor the
 * position of the first difference shows in the timing.
 */
export async function timingSafeEqualString(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}

/**
 * Standard Webhooks signatures (standardwebhooks.com, "Signature scheme"): the secret is `whsec_`
 * followed by the base64 of the key; each delivery carries `webhook-id`, `webhook-timestamp` (Unix
 * seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 */
const PREFIX = 'whsec_';

/** A new secret: 24 random bytes (the specification asks for 24 to 64). */
export function newWebhookSecret(): string {
  return `${PREFIX}${base64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

/** The headers that sign `body` as delivery `id` at `timestamp` (seconds since the epoch). */
export async function signedHeaders(secret: string, id: string, timestamp: number, body: string): Promise<Record<string, string>> {
  const raw = Uint8Array.from(atob(secret.slice(PREFIX.length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${base64(new Uint8Array(mac))}` };
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, form } from '../helpers';

/**
 * Check-then-write on shared records, raced: every rule holds whatever the interleaving, because
 * each write checks its rule in the statement that writes (or in one D1 batch).
 */
const json = { 'content-type': 'application/json' };
/** The README's bound on folders a deployment holds. */
const MAX_FOLDERS = 10_000;
interface Folder {
  id: string;
  name: string;
  parent: string | null;
}

async function folder(name: string, parent: string | null = null): Promise<Folder> {
  const res = await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name, parent }) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: Folder }).data;
}

const move = (id: string, parent: string | null) => api(`/folders/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ parent }) });

/** The ancestors of `id`, walking up at most `limit` steps: a cycle is seen as a repeat. */
async function ancestry(id: string, limit = 50): Promise<string[]> {
  const seen: string[] = [];
  let at: string | null = id;
  while (at !== null && seen.length < limit) {
    if (seen.includes(at)) return [...seen, at];
    seen.push(at);
    at = ((await (await api(`/folders/${at}`)).json()) as { data: Folder }).data.parent;
  }
  return seen;
}

describe('folder moves', () => {
  it('A under B and B under A at once, 20 times: never both, never a cycle', async () => {
    for (let round = 0; round < 20; round++) {
      const [a, b] = [await folder(`a${round}`), await folder(`b${round}`)];
      const [ab, ba] = await Promise.all([move(a.id, b.id), move(b.id, a.id)]);
      const statuses = [ab.status, ba.status].sort();
      expect(statuses, `round ${round}`).toEqual([200, 400]);
      const refused = ab.status === 400 ? ab : ba;
      expect((await errorOf(refused)).message).toMatch(/cycle/);
      for (const id of [a.id, b.id]) {
        const chain = await ancestry(id);
        expect(new Set(chain).size, `round ${round}: ${chain.join(' → ')}`).toBe(chain.length);
      }
    }
  });

  it('a three-folder ring raced (A under B, B under C, C under A): at most two moves win', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b, c] = [await folder('ra'), await folder('rb'), await folder('rc')];
      const results = await Promise.all([move(a.id, b.id), move(b.id, c.id), move(c.id, a.id)]);
      expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(2);
      for (const id of [a.id, b.id, c.id]) {
        const chain = await ancestry(id);
        expect(new Set(chain).size).toBe(chain.length);
      }
    }
  });

  it('a move under a folder deleted at the same time never points to the deleted folder', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, target] = [await folder('mover'), await folder('doomed')];
      const [moved] = await Promise.all([move(a.id, target.id), api(`/folders/${target.id}`, { method: 'DELETE' })]);
      expect([200, 400]).toContain(moved.status);
      const parent = ((await (await api(`/folders/${a.id}`)).json()) as { data: Folder }).data.parent;
      expect(parent).toBeNull();
    }
  });
});

describe('records pointing to folders', () => {
  it('a subfolder created while its parent is deleted: refused, or moved to the root with it', async () => {
    for (let round = 0; round < 10; round++) {
      const parent = await folder('parent');
      const [created] = await Promise.all([
        api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name: 'child', parent: parent.id }) }),
        api(`/folders/${parent.id}`, { method: 'DELETE' }),
      ]);
      if (created.status !== 200) continue;
      const child = ((await created.json()) as { data: Folder }).data;
      const now = ((await (await api(`/folders/${child.id}`)).json()) as { data: Folder }).data;
      expect(now.parent).toBeNull();
    }
  });

  it('a file uploaded into a folder being deleted never points to the deleted folder', async () => {
    for (let round = 0; round < 10; round++) {
      const target = await folder('uploads');
      const [uploaded] = await Promise.all([
        api('/files', { method: 'POST', body: form([{ name: 'r.txt', data: `r${round}`, type: 'text/plain' }], { folder: target.id }) }),
        api(`/folders/${target.id}`, { method: 'DELETE' }),
      ]);
      if (uploaded.status !== 200) continue;
      const { id } = ((await uploaded.json()) as { data: FileJson }).data;
      expect(((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data.folder).toBeNull();
    }
  });

  it('a PATCH of a file\'s folder racing the folder\'s deletion never points to the deleted folder', async () => {
    const file = ((await (await api('/files', { method: 'POST', body: form([{ name: 'p.txt', data: 'p', type: 'text/plain' }]) })).json()) as { data: FileJson }).data;
    for (let round = 0; round < 10; round++) {
      const target = await folder('patched');
      await Promise.all([
        api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ folder: target.id }) }),
        api(`/folders/${target.id}`, { method: 'DELETE' }),
      ]);
      expect(((await (await api(`/files/${file.id}`)).json()) as { data: FileJson }).data.folder).toBeNull();
    }
  });
});

describe('the folder count', () => {
  it(`concurrent creations at the bound (${MAX_FOLDERS}): exactly the room left is used`, async () => {
    const filler = crypto.randomUUID().slice(0, 8);
    const count = async () => ((await env.DB.prepare('SELECT count(*) AS n FROM folders').first<{ n: number }>())?.n ?? 0);
    const room = 3;
    const fill = MAX_FOLDERS - (await count()) - room;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO folders (id, name, parent) SELECT ? || '-' || i, 'filler', NULL FROM n`,
    )
      .bind(fill, filler)
      .run();
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name: `late${i}` }) })));
      const refused = results.filter((r) => r.status !== 200);
      expect(results.length - refused.length).toBe(room);
      for (const r of refused) expect(await errorOf(r)).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: `A deployment may hold at most ${MAX_FOLDERS} folders: delete some before creating more.` });
      expect(await count()).toBe(MAX_FOLDERS);
    } finally {
      await env.DB.prepare("DELETE FROM folders WHERE id LIKE ? || '-%'").bind(filler).run();
    }
  });
});

describe('settings and batch deletes', () => {
  it('two concurrent settings changes of different keys both land, 10 times', async () => {
    const patchSettings = (body: unknown) => api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify(body) });
    try {
      for (let round = 0; round < 10; round++) {
        await patchSettings({ storage_asset_transform: 'all', storage_asset_presets: [] });
        const key = `p${round}`;
        const [a, b] = await Promise.all([patchSettings({ storage_asset_transform: 'presets' }), patchSettings({ storage_asset_presets: [{ key, width: 10 }] })]);
        expect([a.status, b.status]).toEqual([200, 200]);
        const now = ((await (await api('/settings')).json()) as { data: { storage_asset_transform: string; storage_asset_presets: { key: string }[] } }).data;
        expect({ mode: now.storage_asset_transform, keys: now.storage_asset_presets.map((p) => p.key) }, `round ${round}`).toEqual({ mode: 'presets', keys: [key] });
      }
    } finally {
      await patchSettings({ storage_asset_transform: 'all', storage_asset_presets: [] });
    }
  });

  it('DELETE /folders: a listed folder moved under another listed one meanwhile still goes, and its files go to the root', async () => {
    for (let round = 0; round < 5; round++) {
      const [a, b] = [await folder('del-a'), await folder('del-b')];
      const child = await folder('del-child', a.id);
      const up = await api('/files', { method: 'POST', body: form([{ name: 'd.txt', data: 'd', type: 'text/plain' }], { folder: child.id }) });
      const { id } = ((await up.json()) as { data: FileJson }).data;
      const [deleted] = await Promise.all([api('/folders', { method: 'DELETE', headers: json, body: JSON.stringify([a.id, b.id, child.id]) }), move(b.id, a.id)]);
      expect(deleted.status).toBe(204);
      for (const f of [a, b, child]) expect((await api(`/folders/${f.id}`)).status).toBe(404);
      expect(((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data.folder).toBeNull();
    }
  });

  it('a batch delete names at most 100 ids', async () => {
    const ids = Array.from({ length: 101 }, () => crypto.randomUUID());
    for (const path of ['/folders', '/files']) {
      const res = await api(path, { method: 'DELETE', headers: json, body: JSON.stringify(ids) });
      expect(await errorOf(res)).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: 'A batch delete may name at most 100 ids; send the rest in another request.' });
    }
  });
});

describe('a replacement and a PATCH of the same file', () => {
  it('a description, tags or location PATCHed while new bytes upload are kept when the replacement lands', async () => {
    const file = ((await (await api('/files', { method: 'POST', body: form([{ name: 'v1.txt', data: 'v1', type: 'text/plain' }], { description: 'old', tags: '["old"]', location: 'old' }) })).json()) as { data: FileJson }).data;
    const boundary = 'r3place';
    const head = new TextEncoder().encode(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="v2.txt"\r\ncontent-type: text/plain\r\n\r\n`);
    const tail = new TextEncoder().encode(`v2\r\n--${boundary}--\r\n`);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let sent = 0;
    let asked = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 0) controller.enqueue(head);
        else if (sent === 1) {
          asked = true;
          await held;
          controller.enqueue(tail);
        } else controller.close();
        sent++;
      },
    });
    const { exports } = await import('cloudflare:workers');
    const replacing = exports.default.fetch(
      new Request(`http://assets.test/files/${file.id}`, {
        method: 'PATCH',
        body,
        duplex: 'half',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: 'Bearer test-admin-token-0123456789' },
      } as RequestInit),
    );
    // The replacement has read its part's head and waits for more bytes: its record was read.
    while (!asked) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    const patched = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ description: 'new', tags: ['new'], location: 'new' }) });
    expect(patched.status).toBe(200);
    release();
    expect((await replacing).status).toBe(200);
    const now = ((await (await api(`/files/${file.id}`)).json()) as { data: FileJson }).data;
    expect({ description: now.description, tags: now.tags, location: now.location }).toEqual({ description: 'new', tags: ['new'], location: 'new' });
    expect(await (await api(`/assets/${file.id}`)).text()).toBe('v2');
  });
});

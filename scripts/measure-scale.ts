/**
 * `npm run scale` (docs/SCALE.md's numbers), on the local stack, reading its D1's SQLite file (what
 * D1 stores) directly:
 * - bytes a file record takes with its indexes: FILES (default 500) uploads of a photo with the
 *   metadata a CMS typically sets (title, description, tags, a folder; EXIF kept by the default
 *   allow-list) through POST /files, dbstat's bytes per table and index before and after;
 * - rows each path writes (D1 bills rows written; index entries come on top): triggers on every
 *   table count inserts, updates and deletes while one request of each path runs.
 * Prints JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { STACK_TOKEN, startLocalStack } from './local-stack.ts';

const FILES = Number(process.env.FILES ?? 500);
const auth = { authorization: `Bearer ${STACK_TOKEN}` };
const photo = readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'photo-meta.jpg'));

/** The SQLite files under wrangler's D1 state (one database here). */
function d1Files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.sqlite') && f.includes('d1') && !f.endsWith('metadata.sqlite'))
    .map((f) => join(dir, f));
}

/** The one D1 database of the stack. */
function d1File(dir: string): string {
  const files = d1Files(dir);
  if (files.length !== 1) throw new Error(`expected one D1 database, found ${files.join(', ')}`);
  return files[0] as string;
}

/** Bytes per table and index (dbstat's pages in use), summed over the D1 files. */
function usage(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const file of d1Files(dir)) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      for (const row of db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]) {
        out[row.name] = (out[row.name] ?? 0) + row.bytes;
      }
    } finally {
      db.close();
    }
  }
  return out;
}

async function post(path: string, body: BodyInit, headers: Record<string, string> = {}): Promise<{ id: string }> {
  const res = await fetch(`${stack.base}${path}`, { method: 'POST', headers: { ...auth, ...headers }, body });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { id: string } }).data;
}

/**
 * Rows each path writes, per table and operation: triggers on every table of ours log each change
 * into a table of their own (made here, in the stack's throwaway database).
 */
async function rowsWrittenPerPath(folder: string): Promise<Record<string, Record<string, number>>> {
  const db = new DatabaseSync(d1File(stack.persist));
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'").all() as { name: string }[]).map((t) => t.name);
  db.exec('CREATE TABLE scale_writes (tbl TEXT, op TEXT)');
  for (const t of tables) {
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      db.exec(`CREATE TRIGGER scale_${t}_${op} AFTER ${op} ON "${t}" BEGIN INSERT INTO scale_writes VALUES ('${t}', '${op.toLowerCase()}'); END`);
    }
  }
  const counted = async (fn: () => Promise<unknown>) => {
    db.exec('DELETE FROM scale_writes');
    await fn();
    // Work left to waitUntil (edge-cache puts, derivative records) lands just after the answer.
    await new Promise((r) => setTimeout(r, 1500));
    const rows = db.prepare('SELECT tbl, op, COUNT(*) AS n FROM scale_writes GROUP BY tbl, op ORDER BY tbl, op').all() as { tbl: string; op: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [`${r.tbl}.${r.op}`, r.n]));
  };
  const out: Record<string, Record<string, number>> = {};
  let id = '';
  out['POST /files'] = await counted(async () => {
    const form = new FormData();
    form.append('title', 'Counted');
    form.append('folder', folder);
    form.append('file', new File([photo], 'counted.jpg', { type: 'image/jpeg' }));
    id = (await post('/files', form)).id;
  });
  out['TUS upload (create, one PATCH, completion)'] = await counted(async () => {
    const created = await fetch(`${stack.base}/files/tus`, {
      method: 'POST',
      headers: { ...auth, 'tus-resumable': '1.0.0', 'upload-length': String(photo.length), 'upload-metadata': `filename ${btoa('tus.jpg')}` },
    });
    const location = new URL(created.headers.get('location') as string, stack.base);
    const patched = await fetch(location, {
      method: 'PATCH',
      headers: { ...auth, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: photo,
    });
    if (patched.status !== 204) throw new Error(`TUS PATCH: ${patched.status}`);
  });
  out['PATCH /files/:id'] = await counted(async () => {
    const res = await fetch(`${stack.base}/files/${id}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Renamed' }) });
    if (!res.ok) throw new Error(`PATCH: ${res.status}`);
  });
  out['GET /assets/:id?width=200 (first miss)'] = await counted(async () => {
    const res = await fetch(`${stack.base}/assets/${id}?width=200`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`thumbnail: ${res.status}`);
  });
  out['DELETE /files/:id'] = await counted(async () => {
    const res = await fetch(`${stack.base}/files/${id}`, { method: 'DELETE', headers: auth });
    if (!res.ok) throw new Error(`DELETE: ${res.status}`);
  });
  db.close();
  return out;
}

const stack = await startLocalStack();
try {
  const folder = await post('/folders', JSON.stringify({ name: 'Travel' }), { 'content-type': 'application/json' });
  const before = usage(stack.persist);
  for (let i = 0; i < FILES; i += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, FILES - i) }, (_, j) => {
        const form = new FormData();
        form.append('title', `Harbour at dusk, frame ${i + j}`);
        form.append('description', 'Fishing boats in the old harbour after sunset, shot from the east pier for the spring issue.');
        form.append('tags', JSON.stringify(['travel', 'harbour', 'spring-issue']));
        form.append('folder', folder.id);
        form.append('file', new File([photo], `harbour-${i + j}.jpg`, { type: 'image/jpeg' }));
        return post('/files', form);
      }),
    );
  }
  const after = usage(stack.persist);
  const writes = await rowsWrittenPerPath(folder.id);
  const grown = Object.fromEntries(
    Object.entries(after)
      .map(([name, bytes]) => [name, bytes - (before[name] ?? 0)] as const)
      .filter(([, bytes]) => bytes > 0),
  );
  const total = Object.values(grown).reduce((a, b) => a + b, 0);
  const perFile = total / FILES;
  console.log(
    JSON.stringify(
      {
        files: FILES,
        grown_bytes_by_table_and_index: grown,
        bytes_per_file: Math.round(perFile),
        files_per_10_gb: Math.floor((10 * 1000 ** 3) / perFile),
        rows_written_per_path: writes,
      },
      null,
      2,
    ),
  );
} finally {
  await stack.stop();
}

import type { FilesRepository } from '../db/files-repository';
import type { FilesDeps } from './service';
import { AppError } from '../errors/app-error';
import { hex } from '../lib/bytes';
import type { S3Client } from '../storage/s3-client';

/**
 * How new bytes are keyed in storage — Directus 8's File Naming, the `file_naming` setting:
 * - `uuid` (the default): `<id>.<ext>`, a replacement `<id>.<8 hex>.<ext>`;
 * - `original`: the upload's name made into a safe key (see nameStem), `<stem>.<ext>`, with a
 *   suffix when the key is taken. The extension is always the sniffed type's, never the client's.
 * Every key is relative to the location's ROOT (S3Client.fullKey), as all keys are.
 */

/** The most characters a key's stem may have: with a suffix and an extension a key stays ≤ 120. */
export const NAME_STEM_MAX = 100;

/** Numbered suffixes tried on a collision (`-2` … `-5`), then random ones (`-<8 hex>`). */
const NUMBERED = 4;
const RANDOM = 4;

/** How long a claim holds a key for bytes being written (a longer write holds it with its own lease). */
const CLAIM_MS = 2 * 3600_000;

/** Names Windows reserves for devices, in any case and with any extension: never a key's stem. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)$/;

/** Letters that Unicode decomposition does not take apart into an ASCII letter and marks. */
const TRANSLITERATED: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ð: 'd', þ: 'th', ł: 'l', ı: 'i', ħ: 'h', ŋ: 'ng', ſ: 's' };

/** The key of a file's original: `<id>.<ext>` with the sniffed extension. */
export function originalKey(id: string, ext: string | undefined): string {
  return ext ? `${id}.${ext}` : id;
}

/**
 * The key of a replacement's bytes: `<id>.<8 hex>.<ext>`, never the key in use. New bytes are
 * written beside the old ones and the record switches to them in one update, so a replacement that
 * fails at any step leaves the file exactly as it was.
 */
export function replacementKey(id: string, ext: string | undefined): string {
  return originalKey(`${id}.${hex(crypto.getRandomValues(new Uint8Array(4)))}`, ext);
}

/**
 * A client's file name as a key's stem: its last path segment (after `/` or `\`) without its
 * extension, transliterated to ASCII (`é` → `e`, `ß` → `ss`; what has no ASCII form is dropped),
 * lower-cased, every run of other characters (dots, spaces, NUL, controls) one `-`, trimmed, at most
 * NAME_STEM_MAX characters; a Windows device name gets `-file`. Empty when nothing is left (`..`,
 * `...`, `日本`): the caller keeps the id then. So a stem is never a path, `.` or `..`, and only ever
 * `[a-z0-9-]`.
 */
export function nameStem(filename: string): string {
  const segment = filename.split(/[/\\]/).pop() ?? '';
  const base = segment.replace(/\.[^.]*$/, '') || segment;
  const ascii = [...base.toLowerCase()]
    .map((c) => TRANSLITERATED[c] ?? c)
    .join('')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '');
  const stem = ascii
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, NAME_STEM_MAX)
    .replace(/-+$/, '');
  return WINDOWS_RESERVED.test(stem) ? `${stem}-file` : stem;
}

/** The `attempt`-th key for `stem`: itself, then numbered, then random suffixes. */
function candidate(stem: string, ext: string | undefined, attempt: number): string {
  if (attempt === 0) return originalKey(stem, ext);
  const suffix = attempt <= NUMBERED ? String(attempt + 1) : hex(crypto.getRandomValues(new Uint8Array(4)));
  return originalKey(`${stem}-${suffix}`, ext);
}

/** What keying new bytes needs: the file, its sniffed extension, the client's name. */
export interface KeyRequest {
  /** The file's id (the replaced file's for a replacement). */
  id: string;
  /** The extension of an id's key (DetectedType.ext). */
  ext: string | undefined;
  /** The extension of a name's key: the bytes' alone, never the client's (DetectedType.typeExt). */
  typeExt: string | undefined;
  filename: string;
  replaces: boolean;
  /** A TUS upload: its own lease row holds the key while the upload lives (see FilesRepository.claimKey). */
  owner?: { id: string; until: number };
}

/** A key for new bytes, and how to end its claim once the record points to it or the bytes are gone. */
export interface ChosenKey {
  key: string;
  release(): Promise<void>;
}

const NO_CLAIM = async () => {};

/**
 * The key new bytes go to, on every upload path (POST /files, import, replacement, TUS). Under
 * `uuid`, the id's keys. Under `original`, the name's stem (a replacement takes the new upload's
 * name, as its `filename_download` does; its old key is in use until the switch, so replacing
 * `a.jpg` with `a.jpg` gives `a-2.jpg`), or the id's key when the name leaves no stem. A key is
 * taken when the store has an object there (of any software) or it is claimed (claimKey: a record
 * points to it, or another upload is writing it); the claim is one D1 statement, so two uploads of
 * `a.jpg` at once never share a key, whichever isolate they run in.
 */
export async function chooseKey(deps: Pick<FilesDeps, 'repo' | 'fileNaming'>, client: S3Client, request: KeyRequest): Promise<ChosenKey> {
  const { repo } = deps;
  const uuid = () => ({ key: request.replaces ? replacementKey(request.id, request.ext) : originalKey(request.id, request.ext), release: NO_CLAIM });
  if ((await deps.fileNaming()) === 'uuid') return uuid();
  const stem = nameStem(request.filename);
  if (stem === '') return uuid();
  const claimed = await claimFirstFree(repo, client, (attempt) => candidate(stem, request.typeExt, attempt), request.owner);
  if (!claimed) throw new AppError('SERVICE_UNAVAILABLE', `No free storage key for "${stem}" after ${1 + NUMBERED + RANDOM} tries; try again.`);
  return claimed;
}

/**
 * Claims `key` for bytes about to be written (a rename's copy): the store must have no object
 * there, then the claim must win (see chooseKey). Undefined when the key is taken.
 */
export async function claimFreeKey(repo: FilesRepository, client: S3Client, key: string): Promise<ChosenKey | undefined> {
  return claimFirstFree(repo, client, (attempt) => (attempt === 0 ? key : undefined));
}

async function claimFirstFree(
  repo: FilesRepository,
  client: S3Client,
  keyFor: (attempt: number) => string | undefined,
  owner?: KeyRequest['owner'],
): Promise<ChosenKey | undefined> {
  const storage = client.location.name;
  for (let attempt = 0; attempt <= NUMBERED + RANDOM; attempt++) {
    const key = keyFor(attempt);
    if (key === undefined) return undefined;
    // The store first: an object there that no claim covers (another program's, an orphan) is never
    // overwritten, and a claim is written only for a key that is free in the store. Our own writers
    // all claim before they write, so no object of ours appears between the two steps.
    if ((await client.headObject(key)) !== null) continue;
    const now = Date.now();
    if (await repo.claimKey(storage, key, owner?.until ?? now + CLAIM_MS, now, owner?.id)) {
      return { key, release: owner ? NO_CLAIM : () => repo.releaseClaim(storage, key) };
    }
  }
  return undefined;
}

/**
 * A key a client names (`filename_disk` in a rename), as it must be: a stem as nameStem makes one
 * (so never a path, a device name, or anything to clean), then the extension of the file's type.
 * A 400 says what to send instead.
 */
export function checkedKeyName(given: unknown, ext: string | undefined): string {
  const ending = ext ? `ending in .${ext}` : 'with no extension';
  if (typeof given !== 'string') throw new AppError('INVALID_PAYLOAD', `"filename_disk" must be a string: a name of a-z, 0-9 and - (at most ${NAME_STEM_MAX}) ${ending}.`);
  const stem = ext && given.endsWith(`.${ext}`) ? given.slice(0, -ext.length - 1) : given;
  const safe = nameStem(stem);
  if (ext && !given.endsWith(`.${ext}`)) {
    throw new AppError('INVALID_PAYLOAD', `"filename_disk" must end in .${ext}, the extension of the file's type (a rename never changes a file's type); try "${originalKey(safe || 'file', ext)}".`);
  }
  if (stem === '' || safe !== stem) {
    throw new AppError(
      'INVALID_PAYLOAD',
      `"filename_disk" must be a storage key: a-z, 0-9 and single - inside (at most ${NAME_STEM_MAX} characters, not a path nor a Windows device name), ${ending}; try "${originalKey(safe || 'file', ext)}".`,
    );
  }
  return given;
}

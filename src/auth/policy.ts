import type { FileField } from '../files/record';
import { allows, assertScope, type Principal, type Scope } from './tokens';

/**
 * The one access policy for files and folders: the scope each act needs, whichever route or protocol carries it
 * (REST, multipart fields, TUS `Upload-Metadata`). An act on a *new* file — creating it with any
 * writable field, `access` included — is the upload scope's; an act on an *existing* file (its
 * fields, its bytes, its capabilities) is the admin scope's, as Directus lets only those who may
 * manage a file change it.
 */
export const FILE_ACTS = {
  /** List and read records, read private assets with the token. */
  read: 'read',
  /** A new file: POST /files, POST /files/import, a TUS upload without `id`. */
  create: 'upload',
  /** New bytes for an existing file: PATCH /files/:id (multipart), a TUS upload with `id`. */
  replace: 'admin',
  /** Fields of an existing file: PATCH /files/:id (JSON). */
  update: 'admin',
  delete: 'admin',
  /** A new private hash. */
  rotateHash: 'admin',
  /**
   * A signed URL is a capability that outlives nothing it is not bound to: it cannot be revoked with
   * the token that made it. Only those who may manage files (and rotate their hashes) make them.
   */
  sign: 'admin',
  /** See, filter, sort on `private_hash` (the capability for `/assets/<private_hash>`). */
  seePrivateHash: 'admin',
  /** A new folder: uploaders organise what they upload. */
  createFolder: 'upload',
  /** Rename, move or delete a folder (its files move to the root). */
  changeFolder: 'admin',
} as const satisfies Record<string, Scope>;

export type FileAct = keyof typeof FILE_ACTS;

export function mayDo(principal: Principal | undefined, act: FileAct): boolean {
  return principal !== undefined && allows(principal, FILE_ACTS[act]);
}

/** 401 without a principal, 403 when its scope is too weak for `act`. */
export function assertMayDo(principal: Principal | undefined, act: FileAct): void {
  assertScope(principal, FILE_ACTS[act]);
}

/** Record fields a principal may not see, filter or sort on. */
export function hiddenFields(principal: Principal | undefined): ReadonlySet<FileField> {
  return mayDo(principal, 'seePrivateHash') ? NONE : PRIVATE_HASH_ONLY;
}

const NONE: ReadonlySet<FileField> = new Set();
const PRIVATE_HASH_ONLY: ReadonlySet<FileField> = new Set(['private_hash']);

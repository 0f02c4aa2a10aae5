import * as z from 'zod/mini';
import { itemOf, listOf } from './common';
import { named } from './registry';

const scope = z.enum(['read', 'upload', 'admin']);

/** POST /tokens: validated by createToken (src/auth/tokens.ts). */
export const tokenInput = named(
  z.strictObject({
    name: z.string().check(z.minLength(1), z.maxLength(100)),
    scope,
    expires_on: z.optional(z.nullable(z.iso.datetime({ offset: true }))),
  }),
  'TokenInput',
  'A new token: its name (recorded as files\' `uploaded_by`), its scope and an optional expiry.',
);

/** A token as the API answers it; the value only in the answer to its creation. */
export const tokenRecord = named(
  z.object({ id: z.string(), name: z.string(), scope, expires_on: z.nullable(z.string()), created_on: z.string(), revoked_on: z.nullable(z.string()) }),
  'Token',
  'An API token (its value is never stored, only its hash).',
);

export const tokenCreated = named(z.extend(tokenRecord, { token: z.string() }), 'TokenCreated', 'A new token, with its value: shown this once.');

export const tokenAnswer = itemOf(tokenCreated);
export const tokensAnswer = listOf(tokenRecord);
export const tokenMeAnswer = itemOf(z.object({ name: z.string(), scope, expires_on: z.nullable(z.string()) }));

export type TokenJson = z.output<typeof tokenRecord>;

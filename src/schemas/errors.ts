import * as z from 'zod/mini';
import { ERROR_STATUS } from '../errors/app-error';
import { named } from './registry';

const codes = Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]];

/**
 * Directus's error envelope, the one answer of every failure (src/errors/on-error.ts). `extensions`
 * may carry more client-safe fields beside `code` (a storage location, a limit).
 */
export const errorEnvelope = named(
  z.object({
    errors: z.array(
      z.object({
        message: z.string(),
        extensions: z.looseObject({ code: z.enum(codes) }),
      }),
    ),
  }),
  'Errors',
  'Directus\'s error envelope: every failure answers it, with the status its code maps to.',
);

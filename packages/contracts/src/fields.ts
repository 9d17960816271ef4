import { z } from 'zod';

/** Field schemas shared by messages and HTTP bodies, so both validate a value the same way. */

// A UTF-16 surrogate that is not half of a pair (JSON allows "\ud800"; no character is one).
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Free text up to `max` characters. NUL and lone surrogates are refused at the edge: PostgreSQL can't store
 * NUL in text nor a lone surrogate in jsonb (every envelope is stored as jsonb in an outbox), and a value that
 * passed validation must never fail later in a database or a dead-letter queue.
 */
export function text(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((value) => !value.includes('\0'), 'must not contain NUL characters')
    .refine((value) => !LONE_SURROGATE.test(value), 'must be well-formed Unicode (a lone surrogate is not)');
}

export const Id = z.uuid();

/** A routing, item or revision code as the plant writes it; it becomes a folder name on W:\. */
export const Code = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');

/** A semantic version such as the CAM revision `1.0.0`. */
export const SemVer = z.string().regex(/^\d{1,6}\.\d{1,6}\.\d{1,6}$/, 'a version like 1.0.0');

/** A person or system name from a token's `sub`. */
export const Actor = text(200, 1);

/** A workstation identity sent by the add-in as `X-Addin-Device`. */
export const DeviceId = text(200, 1);

/** The add-in's free-text result message (the seed: up to 4000 characters). */
export const ResultMessage = text(4000);

/** ESPRIT parameters: key/value strings, bounded so one job can't carry a megabyte of settings. */
export const JobParameters = z
  .record(text(200, 1), text(4000))
  .refine((p) => Object.keys(p).length <= 200, 'at most 200 parameters');

/**
 * A path relative to the routing's folder on the shared drive. Absolute paths, drive letters and
 * `..` segments are refused: a result must never point the worker outside the routing's folder.
 */
export const RelativePath = z
  .string()
  .min(1)
  .max(260)
  .refine((p) => !/^[\\/]/.test(p) && !/^[A-Za-z]:/.test(p), 'must be relative (no leading slash or drive)')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'must not contain ".." segments')
  .refine((p) => !p.includes('\0'), 'must not contain NUL characters');

/** One file the add-in wrote, as it reports it. */
export const OutputFile = z.object({
  path: RelativePath,
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal characters'),
  sizeBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
export type OutputFile = z.infer<typeof OutputFile>;

export const OutputFiles = z.array(OutputFile).max(100);

/** An ISO-8601 timestamp with offset, as every message carries times. */
export const Timestamp = z.iso.datetime({ offset: true });

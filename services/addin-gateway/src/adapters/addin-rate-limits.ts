import { createRateLimiter, type RateLimitSettings } from '@mcms/platform';
import type { Request, RequestHandler } from 'express';

/** The add-in's limits: per key (a whole fleet may share one) and per key + device. `undefined` = none. */
export interface AddinRateLimits {
  perKey?: RateLimitSettings | undefined;
  perDevice?: RateLimitSettings | undefined;
}

/** Counts one add-in call against its key's and its device's limits; rejects with 429 `rate_limited`. */
export type AddinRateLimiter = (req: Request, caller: { keyId: string; deviceId: string }) => Promise<void>;

/**
 * The limits run after the key is verified, so they count real add-ins by key id (never by the secret
 * itself), and made-up keys are the business of the authentication-failure limit instead. Each call counts
 * once however long it lasts: a long poll that waits 30 s costs as much as one that answers at once.
 */
export function createAddinRateLimiter(limits: AddinRateLimits): AddinRateLimiter {
  const callers = new WeakMap<Request, { keyId: string; deviceId: string }>();
  const limiters: RequestHandler[] = [];
  if (limits.perKey !== undefined) {
    limiters.push(
      createRateLimiter({
        ...limits.perKey,
        what: 'requests for this add-in key',
        key: (req) => callers.get(req)?.keyId,
      }),
    );
  }
  if (limits.perDevice !== undefined) {
    limiters.push(
      createRateLimiter({
        ...limits.perDevice,
        what: 'requests from this add-in device',
        key: (req) => {
          const caller = callers.get(req);
          return caller && `${caller.keyId}/${caller.deviceId}`;
        },
      }),
    );
  }
  return async (req, caller) => {
    callers.set(req, caller);
    for (const limiter of limiters) await run(limiter, req);
  };
}

function run(middleware: RequestHandler, req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (err?: unknown) => (err === undefined ? resolve() : reject(err));
    Promise.resolve(middleware(req, req.res!, next)).catch(reject);
  });
}

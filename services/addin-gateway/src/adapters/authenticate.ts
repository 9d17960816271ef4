import { DeviceId } from '@mcms/contracts';
import {
  unauthorized,
  userAuthenticator,
  type Authenticate,
  type JwtAuth,
  type Logger,
  type Principal,
} from '@mcms/platform';
import type { Request } from 'express';
import { hashKey, keyRefusal, LAST_USED_RESOLUTION_MS, sameHash, shouldRecordUse } from '../domain/keys';
import type { AddinRateLimiter } from './addin-rate-limits';
import type { KeyStore } from './key-store';

/** The add-in's headers. */
export const ADDIN_KEY_HEADER = 'x-addin-key';
export const ADDIN_DEVICE_HEADER = 'x-addin-device';

// Far above any key we issue; stops a client from making us hash megabytes per request.
const MAX_KEY_LENGTH = 512;

/**
 * The gateway's one authenticator: add-in routes take `X-Addin-Key` + `X-Addin-Device`, people and systems a
 * JWT, and `addin-or-viewer` routes whichever the request carries (the key when both are present).
 */
export function createGatewayAuthenticator(deps: {
  jwt: JwtAuth;
  keys: KeyStore;
  clock: () => Date;
  log: Logger;
  /** Per key and device; none when absent. */
  rateLimit?: AddinRateLimiter;
}): Authenticate {
  const users = userAuthenticator(deps.jwt);

  async function addin(req: Request): Promise<Principal> {
    const key = req.get(ADDIN_KEY_HEADER);
    if (key === undefined || key === '') throw unauthorized('X-Addin-Key header required');
    const device = DeviceId.safeParse(req.get(ADDIN_DEVICE_HEADER));
    if (!device.success) throw unauthorized('X-Addin-Device header required (1 to 200 characters)');
    if (key.length > MAX_KEY_LENGTH) throw unauthorized('invalid add-in key');

    const presented = hashKey(key);
    const stored = await deps.keys.findByHash(presented);
    // Looked up by its hash, then compared in constant time: the lookup finds a candidate, the comparison is
    // what decides, and it leaks nothing about how much of a guess matched.
    if (stored === undefined || !sameHash(stored.keyHash, presented))
      throw unauthorized('invalid add-in key');
    const now = deps.clock();
    const refusal = keyRefusal(stored, now);
    if (refusal !== undefined) throw unauthorized(`add-in key ${refusal}`);

    if (shouldRecordUse(stored.lastUsedAt, now)) {
      // Not awaited: bookkeeping must not slow down or fail the add-in's call.
      deps.keys.recordUse(stored.keyId, now, LAST_USED_RESOLUTION_MS).catch((err: unknown) => {
        deps.log.warn({ err, keyId: stored.keyId }, 'could not record the use of an add-in key');
      });
    }
    await deps.rateLimit?.(req, { keyId: stored.keyId, deviceId: device.data });
    return { kind: 'addin', keyId: stored.keyId, deviceId: device.data };
  }

  return async (req, auth) => {
    if (auth === 'addin') return addin(req);
    if (auth === 'addin-or-viewer' && req.get(ADDIN_KEY_HEADER) !== undefined) return addin(req);
    return users(req, auth);
  };
}

/** The device of an add-in principal (routes with `auth: 'addin'` always have one). */
export function deviceOf(principal: Principal | undefined): string {
  if (principal?.kind !== 'addin') throw unauthorized('add-in credentials required');
  return principal.deviceId;
}

/** The name of a user principal, for `created_by`. */
export function userOf(principal: Principal | undefined): string {
  if (principal?.kind !== 'user') throw unauthorized('user credentials required');
  return principal.name;
}

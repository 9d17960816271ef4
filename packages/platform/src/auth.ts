import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { ConfigError } from './config';
import { forbidden, unauthorized } from './errors';

/** The roles of people and systems, lowest first: each includes the rights of those before it. */
export const ROLES = ['viewer', 'editor', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: a person/system from a JWT, or an add-in from its key and device. */
export type Principal =
  { kind: 'user'; name: string; roles: Role[] } | { kind: 'addin'; keyId: string; deviceId: string };

/**
 * A documented secret for development and tests only. `jwtSecretFrom` refuses it (and its absence)
 * in production, so a forgotten setting can't ship a known key.
 */
export const DEV_JWT_SECRET = 'mcms-development-only-secret-do-not-use-in-production';

/** The JWT secret from `MCMS_JWT_SECRET`; the development secret only outside production. */
export function jwtSecretFrom(env: NodeJS.ProcessEnv): string {
  const secret = env.MCMS_JWT_SECRET?.trim();
  const production = env.NODE_ENV === 'production';
  if (production && (!secret || secret === DEV_JWT_SECRET || secret.length < 32)) {
    throw new ConfigError([
      {
        key: 'MCMS_JWT_SECRET',
        message: 'required in production: at least 32 characters, not the development secret',
      },
    ]);
  }
  return secret || DEV_JWT_SECRET;
}

const Claims = z.object({
  sub: z.string().min(1).max(200),
  roles: z.array(z.string()).max(20),
});

/** Verifies and issues HS256 tokens with claims `sub` and `roles`. */
export interface JwtAuth {
  /** The principal of a valid token; throws `unauthorized` for a missing, bad or expired one. */
  verify(token: string): Principal & { kind: 'user' };
  /** Issues a token (tests, the development sign-in). */
  sign(claims: { sub: string; roles: Role[] }, options?: { expiresInSeconds?: number }): string;
}

/** Creates the JWT verifier/issuer for one secret. */
export function createJwtAuth({ secret }: { secret: string }): JwtAuth {
  // One key object for the process: given a string, jsonwebtoken builds a key on every call, which
  // showed up as ~10 % of a busy service's CPU in the benchmark profile.
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    verify(token) {
      let decoded: unknown;
      try {
        decoded = jwt.verify(token, key, { algorithms: ['HS256'] });
      } catch (err) {
        const expired = err instanceof jwt.TokenExpiredError;
        throw unauthorized(expired ? 'token expired' : 'invalid token');
      }
      const claims = Claims.safeParse(decoded);
      if (!claims.success) throw unauthorized('token lacks sub or roles');
      const roles = claims.data.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r));
      return { kind: 'user', name: claims.data.sub, roles };
    },
    sign(claims, options = {}) {
      return jwt.sign({ sub: claims.sub, roles: claims.roles }, key, {
        algorithm: 'HS256',
        expiresIn: options.expiresInSeconds ?? 3600,
      });
    },
  };
}

/** Whether `roles` include `required` or a role above it. */
export function hasRole(roles: readonly Role[], required: Role): boolean {
  const needed = ROLES.indexOf(required);
  return roles.some((role) => ROLES.indexOf(role) >= needed);
}

/** The bearer token of an `Authorization` header; throws `unauthorized` when there is none. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw unauthorized('bearer token required');
  return match[1]!;
}

/** Throws `forbidden` unless the user has `required` (or a higher role). */
export function requireRole(principal: Principal, required: Role): void {
  if (principal.kind !== 'user' || !hasRole(principal.roles, required)) {
    throw forbidden(`requires the ${required} role`);
  }
}

import cors from 'cors';
import type { Express, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type Options as RateLimitOptions } from 'express-rate-limit';
import helmet from 'helmet';
import { z } from 'zod';
import { envDurationMs, envInt } from './config';
import { rateLimited } from './errors';

/** At most `limit` counted requests per caller in a fixed window of `windowMs`. */
export interface RateLimitSettings {
  limit: number;
  windowMs: number;
}

/** Content-Security-Policy directives, as helmet takes them (`'default-src': ["'self'"]`). */
export type CspDirectives = Readonly<Record<string, readonly string[]>>;

/** What {@link applyHttpSecurity} puts in front of a service's routes. */
export interface HttpSecurityOptions {
  /** Browser origins allowed to call this service (CORS), e.g. `https://mcms.plant.example`. None by default. */
  corsOrigins?: readonly string[];
  /** Default {@link API_CSP}: a JSON API loads nothing and may be framed by no one. */
  contentSecurityPolicy?: CspDirectives;
  /** 401 answers allowed per client address and window before 429; `false` turns it off. */
  authFailures?: RateLimitSettings | false;
  /** Proxy hops in front of the service (ingress, load balancer) whose `X-Forwarded-For` is believed. Default 0. */
  trustProxy?: number;
}

/** The policy of an API that only answers JSON: nothing may be loaded, framed, or posted from its answers. */
export const API_CSP: CspDirectives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** Generous for people and add-ins that mistype; tight enough that guessing is noise, not a method. */
export const DEFAULT_AUTH_FAILURE_LIMIT: RateLimitSettings = { limit: 100, windowMs: 60_000 };

/** The HTTP security keys every service reads; spread into a service's config schema. */
export const httpSecurityConfig = {
  /** Comma-separated origins allowed by CORS (and socket.io); empty = none. */
  MCMS_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const origins = text
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean);
      for (const origin of origins) {
        if (!isOrigin(origin)) {
          ctx.issues.push({
            code: 'custom',
            input: text,
            message: `"${origin}" is not an origin (scheme://host[:port], no path)`,
          });
        }
      }
      return origins;
    }),
  /** Proxy hops whose X-Forwarded-For names the client (rate limits per client address need it). */
  MCMS_TRUST_PROXY: envInt({ min: 0, max: 10, default: 0 }),
  /** Failed authentications (401) per client address and window before 429; 0 = no limit. */
  MCMS_AUTH_FAILURE_LIMIT: envInt({ min: 0, max: 1_000_000, default: DEFAULT_AUTH_FAILURE_LIMIT.limit }),
  MCMS_AUTH_FAILURE_WINDOW: envDurationMs(DEFAULT_AUTH_FAILURE_LIMIT.windowMs),
};

/** The options {@link applyHttpSecurity} takes, from a config loaded with {@link httpSecurityConfig}. */
export function httpSecurityFrom(config: {
  MCMS_CORS_ORIGINS: string[];
  MCMS_TRUST_PROXY: number;
  MCMS_AUTH_FAILURE_LIMIT: number;
  MCMS_AUTH_FAILURE_WINDOW: number;
}): HttpSecurityOptions {
  return {
    corsOrigins: config.MCMS_CORS_ORIGINS,
    trustProxy: config.MCMS_TRUST_PROXY,
    authFailures:
      config.MCMS_AUTH_FAILURE_LIMIT === 0
        ? false
        : { limit: config.MCMS_AUTH_FAILURE_LIMIT, windowMs: config.MCMS_AUTH_FAILURE_WINDOW },
  };
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text;
  } catch {
    return false;
  }
}

/**
 * Security headers (helmet, with `contentSecurityPolicy`), CORS for the configured origins only, and the
 * limit on failed authentications per client address. `createHttpApp` calls it before any route.
 */
export function applyHttpSecurity(app: Express, options: HttpSecurityOptions = {}): void {
  app.set('trust proxy', options.trustProxy ?? 0);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: toHelmetDirectives(options.contentSecurityPolicy ?? API_CSP),
      },
      // HSTS only means something behind TLS, which the ingress terminates; it adds it there.
      strictTransportSecurity: false,
    }),
  );
  const origins = options.corsOrigins ?? [];
  if (origins.length > 0) app.use(cors(corsOptions(origins)));
  const authFailures = options.authFailures ?? DEFAULT_AUTH_FAILURE_LIMIT;
  if (authFailures !== false) app.use(authFailureLimiter(authFailures));
}

/** The CORS settings for `origins` (also what socket.io's `cors` option takes). */
export function corsOptions(origins: readonly string[]): cors.CorsOptions {
  return {
    origin: [...origins],
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-correlation-id'],
    exposedHeaders: ['x-correlation-id', 'retry-after'],
    // Tokens travel in a header, never in cookies: nothing for a browser to send on its own.
    credentials: false,
    maxAge: 600,
  };
}

function toHelmetDirectives(directives: CspDirectives): Record<string, string[]> {
  return Object.fromEntries(Object.entries(directives).map(([name, values]) => [name, [...values]]));
}

/** Client addresses whose rate-limit key {@link authFailureLimiter} remembers (all forgotten when full). */
const CLIENT_KEYS_MAX = 10_000;

/**
 * Counts 401 answers per client address and answers 429 (with `Retry-After`) once `limit` were counted in
 * the window. Only failures count, and they count when the answer is sent: a long poll that waits 30 s
 * after a successful sign-in costs nothing, and a client that signs in right is never slowed down.
 * The counts live in express-rate-limit's memory store: per replica (decision 0009).
 */
export function authFailureLimiter(settings: RateLimitSettings): RequestHandler {
  const store = new MemoryStore();
  store.init({ windowMs: settings.windowMs } as RateLimitOptions);
  // ipKeyGenerator parses an IPv6 address (and "::ffff:10.1.2.3" is one) on every call: ~2 % of the gateway's
  // CPU per request. The answer depends on the address alone, and a plant has few of them.
  const clients = new Map<string, string>();
  const clientOf = (ip: string): string => {
    let client = clients.get(ip);
    if (client === undefined) {
      if (clients.size >= CLIENT_KEYS_MAX) clients.clear();
      client = ipKeyGenerator(ip);
      clients.set(ip, client);
    }
    return client;
  };
  return async (req: Request, res: Response, next) => {
    const client = clientOf(req.ip ?? 'unknown');
    const seen = await store.get(client);
    if (seen !== undefined && seen.totalHits >= settings.limit) {
      const retryAfter = secondsUntil(seen.resetTime, settings.windowMs);
      res.setHeader('Retry-After', String(retryAfter));
      next(rateLimited(retryAfter, 'too many failed authentications from this address'));
      return;
    }
    res.on('finish', () => {
      if (res.statusCode === 401) store.increment(client).catch(() => undefined);
    });
    next();
  };
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions extends RateLimitSettings {
  /** Who is counted; `undefined` = this request is not limited here. */
  key: (req: Request) => string | undefined;
  /** Says what was exceeded in the 429's message, e.g. `requests for this add-in key`. */
  what: string;
}

/**
 * An express-rate-limit middleware (memory store, per replica) whose 429 is our error body
 * `{ error: { code: 'rate_limited', … } }` with `Retry-After`. Every request counts once, however long it
 * takes (a long poll included).
 */
export function createRateLimiter(options: RateLimiterOptions): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    keyGenerator: (req) => options.key(req) ?? '',
    skip: (req) => options.key(req) === undefined,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // Its start-up checks are about IP keys and proxies; ours are keyed by verified identities.
    validate: false,
    handler: (req, _res, next) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      next(rateLimited(secondsUntil(resetTime, options.windowMs), `too many ${options.what}`));
    },
  });
}

function secondsUntil(resetTime: Date | undefined, windowMs: number): number {
  const ms = resetTime === undefined ? windowMs : resetTime.getTime() - Date.now();
  return Math.max(1, Math.ceil(ms / 1000));
}

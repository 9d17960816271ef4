import type { IncomingMessage } from 'node:http';
import { corsOptions } from '@mcms/platform';
import type { ServerOptions } from 'socket.io';

/**
 * socket.io's CORS (the polling transport) for the configured origins only, and a check of the `Origin`
 * of every handshake: browsers apply no CORS to WebSockets, so a page on another origin could otherwise
 * open one. Clients that send no `Origin` (the add-in, scripts) are not browsers and pass to the token check.
 */
export function socketServerOptions(allowedOrigins: readonly string[]): Partial<ServerOptions> {
  return {
    ...(allowedOrigins.length > 0 ? { cors: corsOptions(allowedOrigins) } : {}),
    allowRequest: (req, callback) => {
      callback(null, originAllowed(req, allowedOrigins));
    },
  };
}

/** Whether a handshake's `Origin` is this service's own, a configured one, or absent. */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowedOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

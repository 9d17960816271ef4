import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { HostileRequest } from './http-requests';

/** An answer as it came off the wire. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A keep-alive agent for `concurrency` requests at once. */
export function fuzzAgent(concurrency: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: concurrency });
}

/**
 * Sends `request` byte for byte (node:http, no fetch-side validation). Resolves with the answer even
 * when the server stops reading an oversized body early; rejects when no answer came (a crash, a
 * reset, or nothing within `timeoutMs`: a hang).
 */
export function sendRaw(
  baseUrl: string,
  agent: Agent,
  request: HostileRequest,
  timeoutMs: number,
): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  return new Promise<RawAnswer>((resolve, reject) => {
    let answered = false;
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) {
      // Explicit: for GET and DELETE node would otherwise send an unframed body.
      if (request.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = request.body.length;
    }
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers,
        // The point is to send what a careless or hostile client would: node must not refuse it first.
        insecureHTTPParser: true,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      // Writing the rest of a body the server refused may fail after its answer arrived.
      if (answered) return;
      clearTimeout(timer);
      reject(err);
    });
    if (request.body !== undefined) req.end(request.body);
    else req.end();
  });
}

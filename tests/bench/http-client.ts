// The simulated add-ins' HTTP client in the benchmark: `@mcms/addin-client` over undici's `request` instead of
// global fetch. The load generator shares the two cores with the system it measures, and fetch (WHATWG
// streams, transferable bodies, a Headers object per response) took about a third of the benchmark process's
// CPU in its own profile — CPU taken from the services. The real add-in is .NET, so neither client is part of
// the system; the report shows each client's ceiling next to the server's (raw-limits.ts).
import { Agent, request } from 'undici';

/** What `@mcms/addin-client` reads of a response: the status, one header at a time, the text. */
interface BenchResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** A `fetch` for `createAddinClient({ fetch })`: method, headers, string body and signal, nothing more. */
export interface BenchHttpClient {
  fetch: typeof fetch;
  close(): Promise<void>;
}

export function createBenchHttpClient(): BenchHttpClient {
  // One keep-alive connection per add-in in flight; undici's default pool has no limit per origin.
  const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
  const benchFetch = async (
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<BenchResponse> => {
    const response = await request(String(input), {
      dispatcher,
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers as Record<string, string> | undefined,
      body: (init.body ?? undefined) as string | undefined,
      signal: init.signal ?? undefined,
    });
    const text = await response.body.text();
    const { headers } = response;
    return {
      status: response.statusCode,
      ok: response.statusCode < 400,
      headers: {
        get(name: string) {
          const value = headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
      },
      text: async () => text,
      json: async () => JSON.parse(text) as unknown,
    };
  };
  return { fetch: benchFetch as unknown as typeof fetch, close: () => dispatcher.close() };
}

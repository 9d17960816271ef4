import { ErrorBody, type RouteDefinition } from '@mcms/contracts';
import fc from 'fast-check';
import { fuzzAgent, sendRaw, type RawAnswer } from './http-client';
import { hostileRequests, type Defect, type HostileRequest, type RouteTarget } from './http-requests';

/** The statuses and error codes that name each defect. */
const EXPECTED: Record<
  Exclude<Defect, 'unknown-id' | 'edge-value'>,
  { statuses: number[]; codes: string[] }
> = {
  'bad-param': {
    statuses: [400, 404, 431],
    codes: ['validation_failed', 'invalid_request', 'not_found', 'headers_too_large'],
  },
  'bad-query': { statuses: [400, 431], codes: ['validation_failed', 'headers_too_large'] },
  // A bare JSON value (`-4`, `"x"`) is refused by the parser already: we take objects and arrays only.
  'bad-body': { statuses: [400, 413], codes: ['validation_failed', 'payload_too_large', 'invalid_json'] },
  'wrong-content-type': { statuses: [415], codes: ['unsupported_media_type'] },
  'malformed-json': { statuses: [400], codes: ['invalid_json'] },
  'too-large': { statuses: [413], codes: ['payload_too_large'] },
  'huge-headers': { statuses: [431], codes: ['headers_too_large'] },
};

/** Why `answer` is wrong for `request`, or undefined when it is right. */
export function problemWith(
  route: RouteDefinition,
  request: HostileRequest,
  answer: RawAnswer,
): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}`;
  if (request.defect === 'unknown-id') {
    const documented = Object.keys(route.responses).map(Number);
    const allowed = documented.includes(404) ? [404, 409] : documented.filter((s) => s < 300);
    if (!allowed.includes(answer.status))
      return `answered ${answer.status}, expected one of ${allowed.join('/')}`;
    return answer.status >= 400 ? errorBodyProblem(answer, ['not_found', 'conflict']) : undefined;
  }
  if (request.defect === 'edge-value') {
    // Valid or not, as the schema decides; either way an answer, never a 5xx.
    return answer.status >= 400 ? errorBodyProblem(answer) : undefined;
  }
  const expected = EXPECTED[request.defect];
  if (!expected.statuses.includes(answer.status))
    return `answered ${answer.status}, expected ${expected.statuses.join('/')}`;
  return errorBodyProblem(answer, expected.codes);
}

function errorBodyProblem(answer: RawAnswer, codes?: string[]): string | undefined {
  if (!String(answer.headers['content-type'] ?? '').startsWith('application/json'))
    return `error body is ${answer.headers['content-type'] ?? 'untyped'}, not JSON`;
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return 'error body is not JSON';
  }
  const parsed = ErrorBody.safeParse(body);
  if (!parsed.success) return 'error body is not { error: { code, message } }';
  const { code, message, details } = parsed.data.error;
  if (codes && !codes.includes(code)) return `error code ${code}, expected ${codes.join('/')}`;
  if (message.trim() === '') return 'error message is empty';
  if (code === 'validation_failed') {
    const fields = Array.isArray(details) ? details : [];
    if (fields.length === 0) return 'validation_failed names no field';
  }
  return undefined;
}

function describeRequest(request: HostileRequest): string {
  const body = request.body;
  const preview =
    body === undefined ? '' : `${body.subarray(0, 160).toString('utf8')}${body.length > 160 ? '…' : ''}`;
  return JSON.stringify({
    defect: request.defect,
    method: request.method,
    path:
      request.path.length > 200 ? `${request.path.slice(0, 200)}… (${request.path.length})` : request.path,
    contentType: request.headers['content-type'],
    bodyBytes: body?.length,
    chunked: request.chunked,
    body: preview,
  });
}

/** Options of {@link fuzzRoutes}. */
export interface FuzzRoutesOptions {
  baseUrl: string;
  targets: readonly RouteTarget[];
  casesPerRoute: number;
  concurrency: number;
  seed: number;
  /** Per request; an answer slower than this counts as a hang. Default 15 s. */
  timeoutMs?: number;
}

/**
 * For each route: `casesPerRoute` generated requests, `concurrency` at a time, each with one defect;
 * every answer must be the 4xx that names it, with our error body (never a 5xx, a reset or a hang).
 * Returns the number of requests sent per route (`METHOD path`). Throws with the seed and the first
 * failing request.
 */
export async function fuzzRoutes(options: FuzzRoutesOptions): Promise<Record<string, number>> {
  const { baseUrl, casesPerRoute, concurrency, seed, timeoutMs = 15_000 } = options;
  const agent = fuzzAgent(concurrency);
  const counts: Record<string, number> = {};
  try {
    for (const target of options.targets) {
      const name = `${target.route.method.toUpperCase()} ${target.route.path}`;
      counts[name] = 0;
      const batch = fc.array(hostileRequests(target), { minLength: concurrency, maxLength: concurrency });
      const property = fc.asyncProperty(batch, async (requests) => {
        const answers = await Promise.all(
          requests.map((request) =>
            sendRaw(baseUrl, agent, request, timeoutMs).then(
              (answer) => ({ answer, problem: problemWith(target.route, request, answer) }),
              (err: Error) => ({ answer: undefined, problem: `no answer: ${err.message}` }),
            ),
          ),
        );
        counts[name] = (counts[name] ?? 0) + requests.length;
        answers.forEach(({ answer, problem }, i) => {
          if (problem === undefined) return;
          const got = answer ? ` → ${answer.status} ${answer.body.subarray(0, 300).toString('utf8')}` : '';
          throw new Error(
            `${name}: ${problem}\n  request: ${describeRequest(requests[i] as HostileRequest)}${got}`,
          );
        });
      });
      const result = await fc.check(property, {
        numRuns: Math.ceil(casesPerRoute / concurrency),
        seed,
        // Shrinking re-sends megabyte bodies for minutes; the message names the failing request already.
        endOnFailure: true,
      });
      // Not fc.assert: its report prints the whole counterexample, megabyte bodies included.
      if (result.failed) {
        const cause =
          result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
        throw new Error(
          `${cause}\n  (replay: MCMS_FUZZ_SEED=${result.seed}, path ${result.counterexamplePath})`,
        );
      }
    }
  } finally {
    agent.destroy();
  }
  return counts;
}

/**
 * Why a call failed, as a stable code to branch on:
 * - the server's `error.code` (`validation_failed`, `lease_not_held`, `result_conflict`, `unauthorized`, ...)
 *   when it answered with the `{ error: { code, message } }` body;
 * - `http_<status>` when it answered an error status without that body (a proxy's page, say);
 * - `network_error` when no answer came (refused, reset, DNS), `timeout` when none came in time;
 * - `invalid_response` when a 2xx answer did not match the contract;
 * - `aborted` when the caller's signal aborted the call.
 */
export type AddinErrorCode = string;

/** What {@link AddinApiError} is built from. */
export interface AddinApiErrorInit {
  code: AddinErrorCode;
  message: string;
  /** The HTTP status, or null when no answer came. */
  status: number | null;
  /** For `validation_failed`: `[{ path, message }]` per bad field. */
  details?: unknown;
  /** The parsed answer body, when there was one. */
  body?: unknown;
  retryable: boolean;
  cause?: unknown;
}

/**
 * The one error the add-in client throws. `status` and `code` say what happened; `retryable` says whether
 * the client itself would retry it (network errors, timeouts, 503) — by the time it reaches the caller, the
 * client's own retries are already used up.
 */
export class AddinApiError extends Error {
  readonly code: AddinErrorCode;
  readonly status: number | null;
  readonly details: unknown;
  readonly body: unknown;
  readonly retryable: boolean;

  constructor(init: AddinApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'AddinApiError';
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.body = init.body;
    this.retryable = init.retryable;
  }
}

/** Whether `err` is an {@link AddinApiError} (optionally with this code). */
export function isAddinApiError(err: unknown, code?: AddinErrorCode): err is AddinApiError {
  return err instanceof AddinApiError && (code === undefined || err.code === code);
}

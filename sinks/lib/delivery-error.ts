/** What a send attempt learned about its failure: whether trying again can help, and when. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The receiver's Retry-After, if it gave one. */
    readonly retryAfterMs?: number,
    /**
     * How many items at the front of the batch the receiver took before the failure (a batch
     * sent in several requests): they are counted as sent and never sent again.
     */
    readonly delivered = 0,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }

  /** This error, for a send that had already delivered `n` items. */
  after(n: number): DeliveryError {
    return new DeliveryError(this.message, this.retryable, this.retryAfterMs, n);
  }
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The remote_write rules: 5xx and network errors are retried, other 4xx are not (the
 * receiver will refuse the same data again), 429 only when the user allows it.
 */
export function classifyHttp(status: number | undefined, opts: { retryOn429: boolean }, retryAfter?: string, body?: string): DeliveryError {
  const detail = body ? `: ${body.slice(0, 300)}` : '';
  if (status === undefined) return new DeliveryError(`network error${detail}`, true);
  if (status >= 500) return new DeliveryError(`HTTP ${status}${detail}`, true, parseRetryAfter(retryAfter));
  if (status === 429) return new DeliveryError(`HTTP 429 Too Many Requests${detail}`, opts.retryOn429, parseRetryAfter(retryAfter));
  return new DeliveryError(`HTTP ${status}${detail}`, false);
}

/**
 * The OTLP/HTTP rules (specification, "Failures"): 429, 502, 503 and 504 are retried, honouring
 * Retry-After; every other 4xx and 5xx is not — 500 included, unlike remote_write.
 */
export function classifyOtlpHttp(status: number, retryAfter?: string, body?: string): DeliveryError {
  const detail = body ? `: ${body.slice(0, 300)}` : '';
  const retryable = status === 429 || status === 502 || status === 503 || status === 504;
  return new DeliveryError(`HTTP ${status}${detail}`, retryable, retryable ? parseRetryAfter(retryAfter) : undefined);
}

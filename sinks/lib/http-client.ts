import { readFileSync } from 'node:fs';
import type { Got } from 'got';
import { PACKAGE_VERSION } from '../../engine/util/package-root.js';
import { parseDuration } from '../../engine/util/duration.js';
import type { ConfigProblem } from '../../engine/components/contracts.js';
import { classifyHttp, DeliveryError } from './delivery-error.js';

export interface HttpClientConfig {
  headers?: Record<string, string>;
  bearer_token?: string;
  bearer_token_file?: string;
  basic_auth?: { username: string; password?: string; password_file?: string };
  tls?: { ca_file?: string; cert_file?: string; key_file?: string; insecure_skip_verify?: boolean };
  timeout?: string;
}

/** One way of authenticating at a time: what the config check of every HTTP sink refuses. */
export function authProblems(c: HttpClientConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.bearer_token && c.bearer_token_file) problems.push({ path: ['bearer_token_file'], message: 'give bearer_token or bearer_token_file, not both' });
  if ((c.bearer_token || c.bearer_token_file) && c.basic_auth) problems.push({ path: ['basic_auth'], message: 'give a bearer token or basic_auth, not both' });
  return problems;
}

export const USER_AGENT = `probeflow/${PACKAGE_VERSION}`;

/** A sink's got instance, made at its first request: got costs ~20 MB of RSS, which an agent without a push sink never pays. */
export type LazyClient = () => Promise<Got>;

/**
 * A got instance for one sink: auth, TLS and timeouts from config, no retries of its own
 * (the delivery queue decides), errors turned into DeliveryErrors. Token files are read per
 * request so a rotated Secret is picked up without a restart; TLS files are read now, so a
 * missing one fails the sink's creation, not its first send.
 */
export function httpClient(c: HttpClientConfig): { client: LazyClient; authHeaders: () => Record<string, string> } {
  const authHeaders = (): Record<string, string> => {
    if (c.bearer_token_file) return { authorization: `Bearer ${readFileSync(c.bearer_token_file, 'utf8').trim()}` };
    if (c.bearer_token) return { authorization: `Bearer ${c.bearer_token}` };
    if (c.basic_auth) {
      const pw = c.basic_auth.password_file ? readFileSync(c.basic_auth.password_file, 'utf8').trim() : (c.basic_auth.password ?? '');
      return { authorization: `Basic ${Buffer.from(`${c.basic_auth.username}:${pw}`).toString('base64')}` };
    }
    return {};
  };
  const options = {
    headers: { 'user-agent': USER_AGENT, ...(c.headers ?? {}) },
    timeout: { request: parseDuration(c.timeout ?? '30s') },
    retry: { limit: 0 },
    throwHttpErrors: false,
    https: {
      ...(c.tls?.ca_file ? { certificateAuthority: readFileSync(c.tls.ca_file) } : {}),
      ...(c.tls?.cert_file ? { certificate: readFileSync(c.tls.cert_file) } : {}),
      ...(c.tls?.key_file ? { key: readFileSync(c.tls.key_file) } : {}),
      rejectUnauthorized: !c.tls?.insecure_skip_verify,
    },
  };
  let made: Promise<Got> | undefined;
  const client: LazyClient = () => (made ??= import('got').then(({ got }) => got.extend(options)));
  return { client, authHeaders };
}

/** What a receiver answered with a 2xx. */
export interface PostResponse {
  body: Buffer;
  contentType: string;
}

/** Turns a non-2xx answer into a DeliveryError: each protocol has its own retry rules. */
export type HttpClassifier = (status: number, retryAfter: string | undefined, body: string) => DeliveryError;

/** The remote_write rules (also AOM's). */
export const remoteWriteRules =
  (opts: { retryOn429: boolean }): HttpClassifier =>
  (status, retryAfter, body) =>
    classifyHttp(status, opts, retryAfter, body);

/** POSTs and maps the outcome onto the protocol's retry rules; resolves only on 2xx. */
export async function post(client: LazyClient, url: string, body: Buffer | string, headers: Record<string, string>, classify: HttpClassifier): Promise<PostResponse> {
  const got = await client();
  let res;
  try {
    res = await got.post(url, { body, headers, responseType: 'buffer' });
  } catch (e) {
    // got's RequestError carries the socket's code (ECONNREFUSED, ETIMEDOUT…).
    const code = (e as { code?: unknown }).code;
    throw new DeliveryError(`network error${typeof code === 'string' ? ` ${code}` : ''}: ${(e as Error).message}`, true);
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return { body: res.body, contentType: String(res.headers['content-type'] ?? '') };
  const retryAfter = res.headers['retry-after'];
  throw classify(res.statusCode, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, res.body.toString('utf8'));
}

/**
 * Sends one rest-hook request and says whether the endpoint took it. Written
 * over node:http(s) rather than fetch because the connection's DNS lookup must
 * go through the endpoint policy (a name re-resolved to an internal address is
 * refused at connection time) — node:http takes a `lookup` per request.
 * One endpoint affects only its own subscription:
 * - a deadline covers the whole exchange (connect, send, answer);
 * - redirects are not followed (a 3xx is a failure: following one could lead
 *   anywhere, and the endpoint was checked, not its redirect target);
 * - the answer's body is read up to 64 KiB and dropped (a huge body costs
 *   nothing more).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { EndpointPolicy } from './endpoint-policy.js';

export interface HookRequest {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export type HookResult = { ok: true; status: number } | { ok: false; error: string };

const MAX_ANSWER_BYTES = 64 * 1024;

export async function sendHook(policy: EndpointPolicy, hook: HookRequest): Promise<HookResult> {
  let url: URL;
  try {
    url = new URL(hook.url);
    // Checked again at each delivery (configuration may have changed); literal addresses here, names in `lookup`.
    if (isIP(url.hostname.replace(/^\[|\]$/g, ''))) await policy.check(hook.url);
    else policy.checkUrl(hook.url);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HookResult>((resolve) => {
    let settled = false;
    const finish = (result: HookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const req = send(
      url,
      {
        method: hook.method,
        headers: { ...hook.headers, ...(hook.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(hook.body)) } : { 'Content-Length': '0' }) },
        lookup: policy.lookup,
      },
      (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_ANSWER_BYTES) res.destroy();
        });
        const status = res.statusCode ?? 0;
        const done = () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, error: `the endpoint answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}` });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no answer within ${hook.timeoutMs} ms`));
    }, hook.timeoutMs);
    req.on('error', (error) => finish({ ok: false, error: error.message }));
    if (hook.body !== undefined) req.write(hook.body);
    req.end();
  });
}

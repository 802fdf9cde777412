import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { AddressRefusedError, hostOf, type NetworkPolicy } from '../platform/network-policy.js';

export interface WebhookPost {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
}

export interface WebhookHttp {
  /** POSTs and resolves with the status; the receiver's body is discarded unread. */
  post(request: WebhookPost): Promise<number>;
  /** Closes kept-alive connections. */
  close(): void;
}

export class WebhookTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * The webhook transport. Every connection goes through the network policy: an IP literal is
 * judged before the request starts; a name is resolved by the policy's lookup, which refuses
 * before the socket connects, so a name that rebinds inward between registration and delivery is
 * refused as well. Redirects are never followed (a redirect could lead the signed message anywhere).
 */
export function buildWebhookHttp(policy: NetworkPolicy): WebhookHttp {
  // Kept-alive sockets were checked when they connected; reusing one reaches the same address.
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

  return {
    post({ url: text, headers, body, timeoutMs }) {
      return new Promise<number>((resolve, reject) => {
        const url = new URL(text);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
        if (url.username !== '' || url.password !== '') throw new AddressRefusedError('the webhook URL carries credentials; register it again without them');
        const host = hostOf(url);
        if (isIP(host) !== 0) {
          const why = policy.refusal(host);
          if (why !== undefined) throw new AddressRefusedError(why);
        }
        const signal = AbortSignal.timeout(timeoutMs);
        const send = url.protocol === 'https:' ? https.request : http.request;
        const request = send(
          {
            protocol: url.protocol,
            hostname: host,
            port: url.port === '' ? undefined : Number(url.port),
            path: `${url.pathname}${url.search}`,
            method: 'POST',
            headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
            agent: agents[url.protocol],
            lookup: policy.lookup,
            signal,
          },
          (response) => {
            // Only the status matters; the body may be large or hold the receiver's internals.
            response.resume();
            response.on('error', () => undefined);
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', (error) => reject(signal.aborted ? new WebhookTimeoutError('timed out') : error));
        request.end(body);
      });
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

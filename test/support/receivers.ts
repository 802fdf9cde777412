import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { verifyWebhook } from '../../alerts/index.js';

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly path: string;
  readonly at: number;
}

export interface Reply {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface WebhookReceiver {
  /** The receiver's origin; any path under it is answered. */
  readonly origin: string;
  /** `origin` + "/hooks", for tests that need one URL. */
  readonly url: string;
  readonly received: ReceivedRequest[];
  /**
   * Expects every request from now on to be signed with one of the trusted secrets: each is
   * checked with Meterline's own verifier and with the reference Standard Webhooks library, and
   * `close()` fails if one does not verify.
   */
  trust(secret: string): void;
  /** Closes the server; throws when a request did not verify against a trusted secret. */
  close(): Promise<void>;
}

/**
 * Whether a received request is signed with `secret`, by both Meterline's verifier and the
 * reference library (`standardwebhooks`). A request one accepts and the other refuses throws:
 * that is a bug in our signing or verifying, not a bad request.
 */
export function verifySignature(secret: string, request: Pick<ReceivedRequest, 'headers' | 'body'>): boolean {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const headers = { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') };
  const ours = verifyWebhook({ secret, headers, body: request.body, now: new Date() });
  let reference = true;
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': headers['webhook-id'] ?? '',
      'webhook-timestamp': headers['webhook-timestamp'] ?? '',
      'webhook-signature': headers['webhook-signature'] ?? '',
    });
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    reference = false;
  }
  if (ours !== reference) {
    throw new Error(`signature verdicts differ: Meterline's verifier says ${ours}, standardwebhooks says ${reference} (webhook-id ${headers['webhook-id']})`);
  }
  return ours;
}

/**
 * A real HTTP endpoint. `answer` gets the 1-based number of each request and may hold its reply
 * back (a slow endpoint); a bare status answers with an empty body for 2xx, a short text otherwise.
 */
export async function startWebhookReceiver(
  answer: (n: number, request: ReceivedRequest) => number | Reply | Promise<number | Reply> = () => 204,
): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const secrets: string[] = [];
  const unverified: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), path: request.url ?? '', at: Date.now() };
      received.push(entry);
      // Checked on arrival: the signature's timestamp is only fresh now.
      if (secrets.length > 0) {
        try {
          if (!secrets.some((secret) => verifySignature(secret, entry))) unverified.push(`${entry.path}: not signed with a trusted secret`);
        } catch (error) {
          unverified.push(`${entry.path}: ${(error as Error).message}`);
        }
      }
      void Promise.resolve(answer(received.length, entry)).then((given) => {
        const reply = typeof given === 'number' ? { status: given, body: given >= 300 ? 'receiver says no' : '' } : given;
        response.writeHead(reply.status, reply.headers);
        response.end(reply.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: `${origin}/hooks`,
    received,
    trust(secret) {
      secrets.push(secret);
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      if (unverified.length > 0) throw new Error(`webhooks that did not verify:\n${unverified.join('\n')}`);
    },
  };
}

export interface ReceivedMail {
  /** The SMTP envelope's recipients. */
  readonly envelopeTo: string[];
  readonly mail: ParsedMail;
}

export interface SmtpCatcher {
  readonly port: number;
  readonly messages: ReceivedMail[];
  close(): Promise<void>;
}

/** A real SMTP server in the test process that keeps every message it accepts. */
export async function startSmtpCatcher(): Promise<SmtpCatcher> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push({ envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address), mail });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

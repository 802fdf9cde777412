import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

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
  close(): Promise<void>;
}

/**
 * A real HTTP endpoint. `answer` gets the 1-based number of each request and may hold its reply
 * back (a slow endpoint); a bare status answers with an empty body for 2xx, a short text otherwise.
 */
export async function startWebhookReceiver(
  answer: (n: number, request: ReceivedRequest) => number | Reply | Promise<number | Reply> = () => 204,
): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), path: request.url ?? '', at: Date.now() };
      received.push(entry);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
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

import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { CloudEvent, emitterFor, HTTP, httpTransport, Mode } from 'cloudevents';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_MEDIA_TYPES } from '../ingest/index.js';
import { createTenant, expectStatus } from './support/fixtures.js';
import { waitFor } from './support/process.js';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from './support/receivers.js';
import { startScrapedService, type ScrapedService } from './support/scrape.js';
import { LOOPBACK_RECEIVERS, startTestService, type TestService } from './support/service.js';

/**
 * Meterline against the standards' own clients rather than our reading of the specs: the
 * CloudEvents SDK sends events in each content mode, a real OpenAPI validator and a client
 * generated from the document drive the README tour, promtool reads a live /metrics answer and
 * Grafana's schema package types every dashboard. (The alert tests verify every webhook with
 * the reference Standard Webhooks library: test/support/receivers.ts.)
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** Scratch space inside the repository's node_modules, so compiled files resolve its packages. */
let work: string;

/** Compiles `files` (paths inside `dir`) with tsc, strict; the compiler's report on failure. */
async function tsc(dir: string, files: readonly string[], emit: boolean): Promise<void> {
  const flags = ['--strict', '--noUncheckedIndexedAccess', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
  flags.push('--types', 'node', '--skipLibCheck', ...(emit ? ['--outDir', join(dir, 'out')] : ['--noEmit']));
  try {
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), ...flags, ...files], { cwd: dir });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`tsc failed:\n${failure.stdout ?? ''}${failure.stderr ?? failure.message}`);
  }
}

beforeAll(async () => {
  const cache = join(ROOT, 'node_modules/.cache');
  await mkdir(cache, { recursive: true });
  work = await mkdtemp(join(cache, 'meterline-interop-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the CloudEvents SDK for JavaScript (cloudevents 10)', () => {
  let svc: TestService;
  let key: string;
  const events = () => `${svc.url}/v1/events`;
  const auth = () => ({ headers: { authorization: `Bearer ${key}` } });
  const answerOf = (response: unknown) => JSON.parse((response as { body: string }).body) as Record<string, unknown>;
  const llmCall = (id: string, data: Record<string, unknown>, extra: Record<string, string> = {}) =>
    new CloudEvent({ id, source: 'gateway-7', type: 'llm.call', subject: 'acme', data, ...extra });

  beforeAll(async () => {
    svc = await startTestService();
    key = await createTenant(svc, 'sdk');
    const post = (path: string, body: unknown) => expectStatus(svc.request('POST', path, { key, body }), 201);
    await post('/v1/meters', { key: 'tokens', name: 'Tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens', groupBy: { model: '$.model' } });
    await post('/v1/meters', { key: 'bytes', name: 'Bytes', eventType: 'storage.write', aggregation: 'SUM', valueProperty: '$.bytes' });
    await post('/v1/customers', { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD', subjects: ['acme'] });
  });
  afterAll(async () => svc?.close());

  it('binary mode, the emitter default: accepted, then a duplicate on a re-send, extensions allowed', async () => {
    const event = llmCall('sdk-binary-1', { tokens: '1000.5', model: 'large' }, { gatewayregion: 'eu' });
    // The SDK's own binding puts the attributes in headers: this is binary mode.
    expect(HTTP.binary(event).headers).toMatchObject({ 'ce-id': 'sdk-binary-1', 'ce-specversion': '1.0', 'ce-gatewayregion': 'eu' });
    const emit = emitterFor(httpTransport(events()));
    expect(answerOf(await emit(event, auth()))).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(answerOf(await emit(event, auth()))).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it('binary mode gets the same checks: an event without a subject is rejected naming the field', async () => {
    const emit = emitterFor(httpTransport(events()));
    const answer = answerOf(await emit(new CloudEvent({ id: 'sdk-binary-2', source: 'gateway-7', type: 'llm.call', data: { tokens: '1' } }), auth()));
    expect(answer).toMatchObject({ accepted: 0, rejected: [{ index: 0, id: 'sdk-binary-2', errors: [{ path: 'subject' }] }] });
  });

  it('structured mode', async () => {
    const emit = emitterFor(httpTransport(events()), { mode: Mode.STRUCTURED });
    expect(HTTP.structured(llmCall('x', {})).headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(answerOf(await emit(llmCall('sdk-structured-1', { tokens: '200', model: 'small' }), auth()))).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it('batch mode: SDK events as application/cloudevents-batch+json through the SDK transport', async () => {
    const batch = [llmCall('sdk-batch-1', { tokens: '30', model: 'small' }), llmCall('sdk-batch-2', { tokens: '40', model: 'large' })];
    const send = httpTransport(events());
    const response = await send({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify(batch) }, auth());
    expect(answerOf(response)).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
  });

  it('all three modes end in the usage totals', async () => {
    const usage = await expectStatus(svc.request('GET', '/v1/customers/acme/usage?period=current', { key }), 200);
    const tokens = (usage.body.meters as Array<{ key: string; value: string; groupBy: unknown[] }>).find((meter) => meter.key === 'tokens');
    expect(tokens?.value).toBe('1270.5');
    expect(tokens?.groupBy).toEqual(
      expect.arrayContaining([
        { group: { model: 'large' }, value: '1040.5' },
        { group: { model: 'small' }, value: '230' },
      ]),
    );
  });

  it('binary mode percent-decodes header values and keeps every digit of the body', async () => {
    const response = await fetch(events(), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'raw%20binary%E2%82%AC',
        'ce-source': 'backup%2Fagent',
        'ce-type': 'storage.write',
        'ce-subject': '%61cme',
      },
      body: '{"bytes":12345678901234567890.123456789}',
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const usage = await expectStatus(svc.request('GET', '/v1/customers/acme/usage?period=current', { key }), 200);
    expect((usage.body.meters as Array<{ key: string; value: string }>).find((meter) => meter.key === 'bytes')?.value).toBe(
      '12345678901234567890.123456789',
    );
    // The decoded id is the event's id: the same event sent structured is a duplicate.
    const again = await svc.request('POST', '/v1/events', {
      key,
      contentType: 'application/cloudevents+json',
      body: { id: 'raw binary€', type: 'storage.write', subject: 'acme', data: { bytes: '1' } },
    });
    expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it('binary mode takes an empty body as an event without data', async () => {
    const response = await fetch(events(), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'empty-1', 'ce-type': 'heartbeat', 'ce-subject': 'acme' },
      body: '',
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it('binary mode refuses a body it cannot read as data (415) and a header that breaks the binding (400)', async () => {
    const send = (headers: Record<string, string>, body: string) =>
      fetch(events(), {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'ce-specversion': '1.0', 'ce-id': 'bad-1', 'ce-type': 'llm.call', 'ce-subject': 'acme', ...headers },
        body,
      });
    const ndjson = await send({ 'content-type': 'application/x-ndjson' }, '{"tokens":"1"}\n');
    expect(ndjson.status).toBe(415);
    expect(await ndjson.json()).toMatchObject({ error: { code: 'unsupported_media_type', message: expect.stringMatching(/application\/json/) } });
    const text = await send({ 'content-type': 'text/plain' }, 'tokens=1');
    expect(text.status).toBe(415);
    const overlong = await send({ 'content-type': 'application/json', 'ce-subject': '%C0%A0' }, '{}');
    expect(overlong.status).toBe(400);
    expect(await overlong.json()).toMatchObject({ error: { code: 'invalid_request', details: [{ path: 'headers.ce-subject' }] } });
  });
});

describe('the OpenAPI document', () => {
  let svc: TestService;
  let receiver: WebhookReceiver;
  // The document is JSON of any shape; the assertions check the parts they read.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let document: any;

  beforeAll(async () => {
    svc = await startTestService({ env: LOOPBACK_RECEIVERS });
    receiver = await startWebhookReceiver();
    document = (await expectStatus(svc.request('GET', '/docs/json'), 200)).body;
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  it('passes a real OpenAPI validator (@apidevtools/swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(document))).resolves.toBeDefined();
  });

  it('documents the four media types of POST /v1/events, the CloudEvent schema and 415', () => {
    const post = document.paths['/v1/events'].post;
    expect(Object.keys(post.requestBody.content).sort()).toEqual([...EVENT_MEDIA_TYPES].sort());
    expect(post.requestBody.content['application/cloudevents+json'].schema).toEqual({ $ref: '#/components/schemas/CloudEvent' });
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['202', '400', '413', '415', '503']));
    expect(post.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(expect.arrayContaining(['ce-specversion', 'ce-id', 'ce-subject']));
    const cloudEvent = document.components.schemas.CloudEvent;
    expect(cloudEvent.required).toEqual(['id', 'type', 'subject']);
    expect(cloudEvent.properties.data.type).toBe('object');
  });

  it('shows /healthz, /readyz and /metrics as public', () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(document.paths[path].get.security).toEqual([]);
    expect(Object.keys(document.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
    expect(document.paths['/v1/meters'].post.security).toBeUndefined();
    expect(document.security).toEqual([{ apiKey: [] }]);
  });

  it('types every PATCH body', () => {
    const patches = Object.entries(document.paths as Record<string, { patch?: { requestBody: { content: Record<string, { schema: { properties?: object } }> } } }>)
      .filter(([, item]) => item.patch)
      .map(([path, item]) => [path, item.patch?.requestBody.content['application/json']?.schema] as const);
    expect(patches.map(([path]) => path).sort()).toEqual(['/v1/alert-rules/{id}', '/v1/webhook-endpoints/{id}']);
    for (const [, schema] of patches) expect(Object.keys(schema?.properties ?? {}).length).toBeGreaterThan(0);
    const rulePatch = document.paths['/v1/alert-rules/{id}'].patch.requestBody.content['application/json'].schema;
    expect(rulePatch.additionalProperties).toBe(false);
    expect(Object.keys(rulePatch.properties)).toEqual(expect.arrayContaining(['thresholds', 'recurringStep', 'budget', 'channels', 'reason']));
  });

  it('generates a typed client (openapi-typescript + openapi-fetch) that compiles and runs the README tour', async () => {
    const dir = join(work, 'client');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await writeFile(join(dir, 'meterline-api.ts'), astToString(await openapiTS(document)));
    await copyFile(join(ROOT, 'test/client/readme-tour.ts'), join(dir, 'readme-tour.ts'));
    await tsc(dir, ['readme-tour.ts', 'meterline-api.ts'], true);

    const { stdout } = await run(process.execPath, [join(dir, 'out/readme-tour.js')], {
      env: { ...process.env, ML: svc.url, KEY: svc.operatorKey, WEBHOOK_URL: receiver.url },
      timeout: 60_000,
    });
    const tour = JSON.parse(stdout) as {
      ingested: unknown;
      usage: Array<{ key: string; value: string; groups: unknown[] }>;
      keyScopes: string[];
      charges: { lines: unknown[]; total: string };
      secret: string;
      firing: unknown[];
    };
    // The figures the README shows.
    expect(tour.ingested).toEqual({
      accepted: 2,
      duplicates: 1,
      rejected: [{ index: 3, id: 'evt-3', errors: [{ path: 'data.tokens', message: 'meter tokens: "lots" is not a decimal number' }] }],
    });
    expect(tour.usage).toEqual([
      {
        key: 'tokens',
        value: '1560.5',
        groups: expect.arrayContaining([
          { group: { model: 'large' }, value: '1250' },
          { group: { model: 'small' }, value: '310.5' },
        ]),
      },
    ]);
    expect(tour.keyScopes).toEqual(['ingest', 'read']);
    expect(tour.charges).toEqual({ lines: [{ charge: 'tokens', quantity: '1560.5', amount: '3.12' }], total: '3.12' });
    expect(tour.firing).toEqual([{ kind: 'spend_threshold', state: 'firing', threshold: '2' }]);
    const [hook] = await waitFor(async () => (receiver.received.length > 0 ? receiver.received : undefined), 'the tour webhook', 30_000);
    expect(hook && verifySignature(tour.secret, hook)).toBe(true);
  });
});

describe('promtool check metrics on a live /metrics answer', () => {
  let scraped: ScrapedService;

  beforeAll(async () => {
    scraped = await startScrapedService('interop');
  });
  afterAll(async () => scraped?.svc.close());

  it('finds no problem in the exposition', async () => {
    const metrics = await scraped.svc.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    const child = spawn('promtool', ['check', 'metrics']);
    let report = '';
    child.stdout.on('data', (chunk: Buffer) => (report += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (report += chunk.toString()));
    const code = await new Promise<number | null>((done, fail) => {
      child.on('error', (error: NodeJS.ErrnoException) =>
        fail(error.code === 'ENOENT' ? new Error('promtool is not on PATH: install the Debian package "prometheus"') : error),
      );
      child.on('close', done);
      child.stdin.end(metrics.text);
    });
    expect(report).toBe('');
    expect(code).toBe(0);
  });
});

describe("the dashboards against Grafana's own schema (@grafana/schema)", () => {
  it('type-checks every dashboard JSON as a Dashboard', async () => {
    const dir = join(work, 'dashboards');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    const names = readdirSync(join(ROOT, 'dashboards')).filter((name) => name.endsWith('.json'));
    expect(names.length).toBeGreaterThanOrEqual(3);
    const files: string[] = [];
    for (const name of names) {
      const file = `${name.replace(/\.json$/, '')}.ts`;
      const json = readFileSync(join(ROOT, 'dashboards', name), 'utf8');
      // A literal assigned to the type: excess properties and wrong enum values are errors.
      await writeFile(join(dir, file), `import type { Dashboard } from '@grafana/schema';\nexport const dashboard: Dashboard = ${json};\n`);
      files.push(file);
    }
    await tsc(dir, files, false);
  });
});

import { STATUS_CODES } from 'node:http';
import nodemailer from 'nodemailer';
import { NotFoundError } from '../platform/errors.js';
import type { AlertsConfig } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { NetworkPolicy } from '../platform/network-policy.js';
import type { AlertRecord, AlertStore, DeliveryRecord } from './alert-store.js';
import { renderEmail, webhookPayload } from './notification.js';
import type { WebhookEndpoints } from './webhook-endpoints.js';
import { buildWebhookHttp } from './webhook-http.js';
import { signWebhook } from './webhook-signature.js';

/** Sends at once per process; a slow endpoint holds one slot, not the whole outbox. */
export const OUTBOX_CONCURRENCY = 8;
const POLL_INTERVAL_MS = 1_000;
/** Floor of the wait between passes, so a delivery due "now" that is still in flight cannot spin the loop. */
const MIN_WAIT_MS = 10;
/** The wait when something fell due between reading the outbox and summing it up. */
const SOON_MS = 100;
const ERROR_EXCERPT_CHARS = 200;
const EMAIL_NOT_CONFIGURED = 'email is not configured (set SMTP_HOST)';
export const WEBHOOK_USER_AGENT = 'Meterline-Webhooks/1';

export interface OutboxDeps {
  readonly alertStore: Pick<AlertStore, 'dueDeliveries' | 'updateDeliveries' | 'byIds' | 'pendingSummary'>;
  readonly endpoints: Pick<WebhookEndpoints, 'get' | 'setDisabled'>;
  readonly config: AlertsConfig;
  readonly log: Logger;
  readonly metrics: Pick<Metrics, 'deliveries' | 'webhookRetries' | 'webhookEndpointsDisabled' | 'deliveryLatency' | 'outboxPending'>;
  readonly now?: () => number;
  /** Uniform in [0, 1); spreads retries so endpoints that failed together do not retry together. */
  readonly random?: () => number;
  /** Which addresses webhooks may reach; checked again on every connection. */
  readonly networkPolicy: NetworkPolicy;
}

export interface Outbox {
  /** Look for due deliveries now instead of at the next poll (after new alerts were recorded). */
  wake(): void;
  /** One pass: claims what is due (up to the free slots), sends it and records the outcomes; resolves when they are recorded. */
  runOnce(): Promise<number>;
  start(): void;
  /** Stops polling and waits for the sends in flight to be recorded. */
  stop(): Promise<void>;
}

type Outcome =
  | { readonly kind: 'succeeded' }
  | { readonly kind: 'failed'; readonly reason: string; readonly final?: boolean }
  | { readonly kind: 'cancelled' };

/** A failure of ours (the store), not of the delivery: nothing is recorded and the delivery is retried at the next pass. */
class InternalError extends Error {}

/** The delay before attempt `attempts + 1`, after `attempts` failed ones: exponential, capped, with jitter in [delay/2, delay]. */
export function retryDelayMs(attempts: number, config: Pick<AlertsConfig, 'backoffBaseMs' | 'backoffMaxMs'>, random: () => number): number {
  const exponent = Math.max(0, attempts - 1);
  // 2^exponent overflows to Infinity long before it matters; min() takes care of it.
  const delay = Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** exponent);
  return Math.round(delay / 2 + random() * (delay / 2));
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > ERROR_EXCERPT_CHARS ? `${flat.slice(0, ERROR_EXCERPT_CHARS)}…` : flat;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    return oneLine(error.message);
  }
  return oneLine(String(error));
}

/**
 * What a refused answer records: the status and its standard reason phrase. Never the receiver's
 * body or its own reason phrase: an internal endpoint's answer must not travel back to the tenant.
 */
export function statusReason(status: number): string {
  const phrase = STATUS_CODES[status];
  return phrase ? `HTTP ${status} ${phrase}` : `HTTP ${status}`;
}

/** The URL as it may be logged: credentials in it are dropped. */
function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

/**
 * The delivery loop of the alert outbox. Each pass takes the due deliveries, sends them (at most
 * OUTBOX_CONCURRENCY at once, never one delivery twice at once in this process) and then records
 * the outcome as a newer version of the delivery row.
 *
 * Delivery is at least once. The outcome is written only after the send, so a crash (or a store
 * failure) between the two leaves the delivery pending: it is sent again, with the same
 * `webhook-id` and body, and consumers deduplicate on that id. Recording before sending would
 * instead lose the message whenever the process died in between. Several processes running the
 * outbox can likewise send one delivery twice; the same id covers that.
 */
export function buildOutbox(deps: OutboxDeps): Outbox {
  const { alertStore, endpoints, config, log, metrics } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const webhookHttp = buildWebhookHttp(deps.networkPolicy);
  const smtp = config.smtp;
  // One transport for the life of the outbox: it keeps no connection between messages (no pool),
  // but building it per message would re-read the configuration for nothing.
  const mailer = smtp
    ? nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.user !== undefined ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
        connectionTimeout: 30_000,
        greetingTimeout: 30_000,
        socketTimeout: 60_000,
      })
    : undefined;
  const messageIdDomain = (() => {
    try {
      return new URL(config.publicUrl).hostname || 'meterline';
    } catch {
      return 'meterline';
    }
  })();

  const keyOf = (delivery: DeliveryRecord) => `${delivery.tenantId}\u0000${delivery.id}`;
  const inFlight = new Map<string, Promise<void>>();
  // A pass that read the outbox before a send was recorded may still see that delivery pending
  // after it left `inFlight`; the order of completions tells such stale rows apart.
  let completions = 0;
  const completedAt = new Map<string, number>();
  let activeClaims = 0;
  // Deliveries whose outcome could not be recorded wait here a while before this process sends them
  // again, so a store that reads but does not write is not met with a resend loop.
  const heldUntil = new Map<string, number>();

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  let lastTick: Promise<void> | undefined;
  let rerun = false;

  async function loadAlerts(deliveries: readonly DeliveryRecord[]): Promise<Map<string, AlertRecord>> {
    const idsByTenant = new Map<string, Set<string>>();
    for (const delivery of deliveries) {
      const ids = idsByTenant.get(delivery.tenantId) ?? new Set<string>();
      ids.add(delivery.alertId);
      idsByTenant.set(delivery.tenantId, ids);
    }
    const alerts = new Map<string, AlertRecord>();
    for (const [tenantId, ids] of idsByTenant) {
      for (const alert of await alertStore.byIds(tenantId, [...ids])) alerts.set(`${tenantId}\u0000${alert.id}`, alert);
    }
    return alerts;
  }

  async function sendWebhook(delivery: DeliveryRecord, alert: AlertRecord): Promise<Outcome> {
    let endpoint;
    try {
      endpoint = await endpoints.get(delivery.tenantId, delivery.target);
    } catch (error) {
      if (error instanceof NotFoundError) return { kind: 'failed', reason: `webhook endpoint ${delivery.target} was removed`, final: true };
      throw new InternalError(`could not read webhook endpoint ${delivery.target}`, { cause: error });
    }
    if (endpoint.disabled) {
      const why = endpoint.disabledReason ? `: ${endpoint.disabledReason}` : '';
      return { kind: 'failed', reason: `webhook endpoint ${endpoint.id} is disabled${why}`, final: true };
    }
    const body = JSON.stringify(webhookPayload(alert, delivery.messageType, delivery.createdAt));
    const timestamp = Math.floor(now() / 1000);
    try {
      const status = await webhookHttp.post({
        url: endpoint.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': WEBHOOK_USER_AGENT,
          'webhook-id': delivery.messageId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook({ secret: endpoint.secret, id: delivery.messageId, timestamp, body }),
        },
        body,
        timeoutMs: config.webhookTimeoutMs,
      });
      if (status >= 200 && status < 300) return { kind: 'succeeded' };
      return { kind: 'failed', reason: statusReason(status) };
    } catch (error) {
      const message = errorMessage(error);
      return { kind: 'failed', reason: message === 'timed out' ? `timed out after ${config.webhookTimeoutMs} ms` : message };
    }
  }

  async function sendEmail(delivery: DeliveryRecord, alert: AlertRecord): Promise<Outcome> {
    if (!mailer || !smtp) return { kind: 'failed', reason: EMAIL_NOT_CONFIGURED, final: true };
    const { subject, text, html } = renderEmail(alert, delivery.messageType);
    try {
      await mailer.sendMail({
        from: smtp.from,
        to: delivery.target,
        subject,
        text,
        html,
        // Stable across attempts, so a client can fold a message sent twice after a crash.
        messageId: `<${delivery.id}@${messageIdDomain}>`,
      });
      return { kind: 'succeeded' };
    } catch (error) {
      return { kind: 'failed', reason: errorMessage(error) };
    }
  }

  async function attempt(delivery: DeliveryRecord, alert: AlertRecord | undefined): Promise<Outcome> {
    if (!alert) return { kind: 'failed', reason: `alert ${delivery.alertId} not found`, final: true };
    if (alert.acknowledgedAt !== undefined) return { kind: 'cancelled' };
    return delivery.channel === 'webhook' ? sendWebhook(delivery, alert) : sendEmail(delivery, alert);
  }

  function latencyStart(delivery: DeliveryRecord, alert: AlertRecord | undefined): number {
    const at = delivery.messageType === 'alert.resolved' ? (alert?.resolvedAt ?? delivery.createdAt) : (alert?.createdAt ?? delivery.createdAt);
    return Date.parse(at);
  }

  async function disableEndpoint(delivery: DeliveryRecord, reason: string): Promise<void> {
    try {
      const endpoint = await endpoints.setDisabled(delivery.tenantId, delivery.target, true, `deliveries kept failing: ${reason}`);
      metrics.webhookEndpointsDisabled.inc();
      log.warn(
        { tenantId: delivery.tenantId, endpointId: endpoint.id, url: loggableUrl(endpoint.url), deliveryId: delivery.id, reason },
        'webhook endpoint disabled: its deliveries kept failing',
      );
    } catch (error) {
      // Removed meanwhile, or the store failed: the delivery's outcome is still worth recording.
      log.error({ err: error, tenantId: delivery.tenantId, endpointId: delivery.target }, 'could not disable a failing webhook endpoint');
    }
  }

  /** Sends one delivery and records the outcome; never rejects. */
  async function settle(delivery: DeliveryRecord, alerts: Promise<Map<string, AlertRecord>>): Promise<void> {
    heldUntil.delete(keyOf(delivery));
    const { channel } = delivery;
    try {
      const alert = (await alerts).get(`${delivery.tenantId}\u0000${delivery.alertId}`);
      const outcome = await attempt(delivery, alert);
      const updatedAt = new Date(now()).toISOString();
      let record: DeliveryRecord;
      let after: () => void;
      if (outcome.kind === 'succeeded') {
        record = { ...delivery, status: 'succeeded', attempts: delivery.attempts + 1, updatedAt };
        after = () => {
          metrics.deliveries.inc({ channel, outcome: 'succeeded' });
          metrics.deliveryLatency.observe({ channel }, Math.max(0, now() - latencyStart(delivery, alert)) / 1000);
        };
      } else if (outcome.kind === 'cancelled') {
        record = { ...delivery, status: 'cancelled', updatedAt };
        after = () => {
          metrics.deliveries.inc({ channel, outcome: 'cancelled' });
        };
      } else {
        const attempts = delivery.attempts + 1;
        const retry = !outcome.final && attempts < config.maxAttempts;
        if (retry) {
          const nextAttemptAt = new Date(now() + retryDelayMs(attempts, config, random)).toISOString();
          record = { ...delivery, status: 'pending', attempts, nextAttemptAt, lastError: outcome.reason, updatedAt };
          after = () => {
            metrics.deliveries.inc({ channel, outcome: 'retry' });
            if (channel === 'webhook') metrics.webhookRetries.inc();
            log.info({ tenantId: delivery.tenantId, deliveryId: delivery.id, channel, attempts, nextAttemptAt, reason: outcome.reason }, 'alert delivery failed; will retry');
          };
        } else {
          record = { ...delivery, status: 'failed', attempts, lastError: outcome.reason, updatedAt };
          // Only an endpoint that kept failing is disabled; one already removed or disabled is left as it is.
          if (channel === 'webhook' && !outcome.final) await disableEndpoint(delivery, outcome.reason);
          after = () => {
            metrics.deliveries.inc({ channel, outcome: 'failed' });
            log.warn({ tenantId: delivery.tenantId, deliveryId: delivery.id, alertId: delivery.alertId, channel, attempts, reason: outcome.reason }, 'alert delivery failed');
          };
        }
      }
      await alertStore.updateDeliveries([record]);
      after();
    } catch (error) {
      // Nothing recorded: the delivery stays pending and a later pass sends it again.
      heldUntil.set(keyOf(delivery), now() + Math.max(POLL_INTERVAL_MS, config.backoffBaseMs));
      log.error({ err: error, tenantId: delivery.tenantId, deliveryId: delivery.id }, 'alert delivery not recorded; it will be retried');
    }
  }

  /** Claims due deliveries and starts them; resolves once they are started, with their completions. */
  async function claim(): Promise<Array<Promise<void>>> {
    if (OUTBOX_CONCURRENCY - inFlight.size <= 0) return [];
    const since = completions;
    activeClaims += 1;
    try {
      const due = await alertStore.dueDeliveries(OUTBOX_CONCURRENCY + inFlight.size);
      // Re-checked after the read: another pass may have filled the slots meanwhile.
      const room = OUTBOX_CONCURRENCY - inFlight.size;
      const at = now();
      for (const [key, until] of heldUntil) if (until <= at) heldUntil.delete(key);
      const fresh = due
        .filter((delivery) => {
          const key = keyOf(delivery);
          return !inFlight.has(key) && !heldUntil.has(key) && (completedAt.get(key) ?? -1) <= since;
        })
        .slice(0, Math.max(0, room));
      if (fresh.length === 0) return [];
      const alerts = loadAlerts(fresh);
      // An unhandled rejection here would end the process; each settle() reports the failure instead.
      alerts.catch(() => undefined);
      return fresh.map((delivery) => {
        const key = keyOf(delivery);
        const job = settle(delivery, alerts).finally(() => {
          inFlight.delete(key);
          completedAt.set(key, ++completions);
          wake();
        });
        inFlight.set(key, job);
        return job;
      });
    } finally {
      activeClaims -= 1;
      if (activeClaims === 0) completedAt.clear();
    }
  }

  async function refreshPending(): Promise<number | undefined> {
    const summary = await alertStore.pendingSummary();
    metrics.outboxPending.set(summary.pending);
    return summary.nextAt;
  }

  function schedule(delayMs: number): void {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      lastTick = tick();
    }, delayMs);
  }

  async function tick(): Promise<void> {
    ticking = true;
    rerun = false;
    let wait = POLL_INTERVAL_MS;
    try {
      await claim();
      const nextAt = await refreshPending();
      if (nextAt !== undefined) {
        const until = nextAt - now();
        // Wake for the next retry when it comes before the next poll. Something due now is either in
        // flight (its completion wakes the loop) or fell due just after the read, so look again soon.
        // The extra millisecond: timers may fire a little early, and a pass before the due time finds nothing.
        if (until > 0) wait = Math.min(wait, until + 1);
        else if (inFlight.size === 0 && heldUntil.size === 0) wait = SOON_MS;
      }
      if (heldUntil.size > 0) wait = Math.min(wait, Math.min(...heldUntil.values()) - now() + 1);
    } catch (error) {
      log.error({ err: error }, 'alert outbox pass failed');
    }
    // In the same turn as the next schedule(): a wake() between the two would otherwise be lost.
    ticking = false;
    schedule(rerun ? 0 : Math.max(MIN_WAIT_MS, wait));
  }

  function wake(): void {
    if (!running) return;
    if (ticking) rerun = true;
    else schedule(0);
  }

  return {
    wake,
    async runOnce() {
      const jobs = await claim();
      await Promise.all(jobs);
      await refreshPending();
      return jobs.length;
    },
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await lastTick;
      await Promise.all([...inFlight.values()]);
      mailer?.close();
      webhookHttp.close();
    },
  };
}

import { messageIdOf, type AlertDetails, type AlertRecord, type MessageType } from './alert-store.js';
import type { Driver } from './detectors/spike.js';
import type { AlertKind } from './rule-schema.js';

/** The version of the webhook message schema; a breaking change to `data` gets a new one. */
export const WEBHOOK_PAYLOAD_VERSION = 1;

export interface WebhookPayloadData {
  readonly alertId: string;
  readonly ruleId: string;
  readonly kind: AlertKind;
  readonly customerId: string;
  readonly period: { readonly start: string; readonly end: string };
  readonly threshold?: string;
  readonly value: string;
  readonly currency: string;
  readonly budget?: string;
  readonly percentage?: string;
  readonly forecast?: string;
  readonly baseline?: string;
  /** current / baseline; null when the baseline is zero (the ratio is unbounded). */
  readonly ratio?: string | null;
  readonly window?: { readonly start: string; readonly end: string };
  readonly drivers?: { readonly charges: Driver[]; readonly dimensions: Driver[] };
  readonly chargesUrl: string;
}

export interface WebhookPayload {
  readonly type: MessageType;
  /** The same as the `webhook-id` header, so a consumer can deduplicate on either. */
  readonly id: string;
  readonly createdAt: string;
  readonly version: typeof WEBHOOK_PAYLOAD_VERSION;
  readonly data: WebhookPayloadData;
}

const copyDriver = (driver: Driver): Driver => ({
  key: driver.key,
  current: driver.current,
  baseline: driver.baseline,
  increase: driver.increase,
});

/**
 * The webhook message of an alert. Fields are copied one by one rather than spread from the
 * stored details, so a field added to the details for the email (the customer's name, say)
 * never reaches consumers without a decision to publish it. Amounts stay decimal strings:
 * a JSON number would be read as a double by most consumers.
 */
export function webhookPayload(alert: AlertRecord, type: MessageType, createdAt: string): WebhookPayload {
  const d = alert.details;
  const data: WebhookPayloadData = {
    alertId: alert.id,
    ruleId: alert.ruleId,
    kind: alert.kind,
    customerId: alert.customerId,
    period: { start: d.period.start, end: d.period.end },
    ...(d.threshold !== undefined ? { threshold: d.threshold } : {}),
    value: d.value,
    currency: d.currency,
    ...(d.budget !== undefined ? { budget: d.budget } : {}),
    ...(d.percentage !== undefined ? { percentage: d.percentage } : {}),
    ...(d.forecast !== undefined ? { forecast: d.forecast } : {}),
    ...(d.baseline !== undefined ? { baseline: d.baseline } : {}),
    ...(d.ratio !== undefined ? { ratio: d.ratio } : {}),
    ...(d.window !== undefined ? { window: { start: d.window.start, end: d.window.end } } : {}),
    ...(d.drivers !== undefined
      ? { drivers: { charges: d.drivers.charges.map(copyDriver), dimensions: d.drivers.dimensions.map(copyDriver) } }
      : {}),
    chargesUrl: d.chargesUrl,
  };
  return { type, id: messageIdOf(alert.id, type), createdAt, version: WEBHOOK_PAYLOAD_VERSION, data };
}

export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Usage thresholds measure a quantity, everything else an amount of money. */
function amountOf(details: AlertDetails, amount: string): string {
  return details.kind === 'usage_threshold' ? amount : `${amount} ${details.currency}`;
}

/** What fired, as a clause: "spend crossed 500 USD". */
function firedHeadline(d: AlertDetails): string {
  switch (d.kind) {
    case 'spend_threshold':
      return d.threshold !== undefined ? `spend crossed ${amountOf(d, d.threshold)}` : 'spend threshold crossed';
    case 'usage_threshold':
      return d.threshold !== undefined ? `usage crossed ${d.threshold} (${d.measure})` : `usage threshold crossed (${d.measure})`;
    case 'budget':
      return d.percentage !== undefined && d.budget !== undefined
        ? `spend reached ${d.percentage}% of the ${amountOf(d, d.budget)} budget`
        : 'budget threshold reached';
    case 'forecast':
      return d.budget !== undefined
        ? `forecast ${amountOf(d, d.forecast ?? d.value)} exceeds the ${amountOf(d, d.budget)} budget`
        : 'forecast exceeds the budget';
    case 'spike':
      return 'spend spike';
  }
}

/** What is over, as a noun phrase completed by "resolved": "spend spike resolved". */
function resolvedSubject(d: AlertDetails): string {
  switch (d.kind) {
    case 'spend_threshold':
      return d.threshold !== undefined ? `spend above ${amountOf(d, d.threshold)}` : 'spend threshold';
    case 'usage_threshold':
      return d.threshold !== undefined ? `usage above ${d.threshold} (${d.measure})` : `usage threshold (${d.measure})`;
    case 'budget':
      return d.percentage !== undefined && d.budget !== undefined
        ? `spend at ${d.percentage}% of the ${amountOf(d, d.budget)} budget`
        : 'budget threshold';
    case 'forecast':
      return d.budget !== undefined ? `forecast above the ${amountOf(d, d.budget)} budget` : 'forecast above the budget';
    case 'spike':
      return 'spend spike';
  }
}

function headline(details: AlertDetails, type: MessageType): string {
  return type === 'alert.fired' ? firedHeadline(details) : `${resolvedSubject(details)} resolved`;
}

// Subjects are header values: a line break in a customer's name must not start a new header.
function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The figures of the alert as label/value pairs, in the order the email shows them. */
function figures(alert: AlertRecord, type: MessageType): Array<[string, string]> {
  const d = alert.details;
  const rows: Array<[string, string]> = [[type === 'alert.fired' ? 'Current value' : 'Value', `${amountOf(d, d.value)} (${d.measure})`]];
  if (d.threshold !== undefined) rows.push(['Threshold', amountOf(d, d.threshold)]);
  if (d.budget !== undefined) rows.push(['Budget', amountOf(d, d.budget)]);
  if (d.percentage !== undefined) rows.push(['Budget reached', `${d.percentage}%`]);
  if (d.spent !== undefined) rows.push(['Spent so far', amountOf(d, d.spent)]);
  if (d.forecast !== undefined) rows.push(['Forecast for the period', amountOf(d, d.forecast)]);
  if (d.baseline !== undefined) rows.push(['Baseline', amountOf(d, d.baseline)]);
  if (d.ratio !== undefined) rows.push(['Ratio to baseline', d.ratio === null ? 'no usage in the baseline' : `${d.ratio}×`]);
  if (d.window !== undefined) rows.push(['Window', `${d.window.start} – ${d.window.end}`]);
  rows.push(['Billing period', `${d.period.start} – ${d.period.end}`]);
  if (type === 'alert.resolved' && alert.resolution !== undefined) rows.push(['Resolution', alert.resolution]);
  return rows;
}

function driverLines(alert: AlertRecord): Array<{ title: string; lines: string[] }> {
  const d = alert.details;
  if (d.drivers === undefined) return [];
  const describe = (driver: Driver) =>
    `${driver.key}: ${amountOf(d, driver.current)} (baseline ${amountOf(d, driver.baseline)}, +${amountOf(d, driver.increase)})`;
  return [
    { title: 'Top drivers by charge', lines: d.drivers.charges.map(describe) },
    { title: 'Top drivers by dimension', lines: d.drivers.dimensions.map(describe) },
  ].filter((group) => group.lines.length > 0);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

// Only web links become anchors: a "javascript:" URL in stored details must not become clickable.
function isWebUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** The email of an alert message, as plain text and HTML with the same content. */
export function renderEmail(alert: AlertRecord, type: MessageType): RenderedEmail {
  const d = alert.details;
  const name = d.customerName || d.customerId;
  const what = headline(d, type);
  const subject = `[Meterline] ${oneLine(name, 100)}: ${oneLine(what, 200)}`;
  const intro = type === 'alert.fired' ? `${name} (customer ${d.customerId}): ${what}.` : `Resolved for ${name} (customer ${d.customerId}): ${what}.`;
  const rows = figures(alert, type);
  const drivers = driverLines(alert);
  const footer = `Alert ${alert.id}, rule ${alert.ruleId}.`;

  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const text = [
    intro,
    '',
    ...rows.map(([label, value]) => `${`${label}:`.padEnd(labelWidth + 1)} ${value}`),
    ...drivers.flatMap((group) => ['', `${group.title}:`, ...group.lines.map((line) => `  - ${line}`)]),
    '',
    `See the charges: ${d.chargesUrl}`,
    '',
    footer,
    '',
  ].join('\n');

  const link = isWebUrl(d.chargesUrl)
    ? `<a href="${escapeHtml(d.chargesUrl)}">See the charges</a>`
    : `See the charges: ${escapeHtml(d.chargesUrl)}`;
  const html = [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>`,
    `<p>${escapeHtml(intro)}</p>`,
    '<table>',
    ...rows.map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`),
    '</table>',
    ...drivers.flatMap((group) => [
      `<p>${escapeHtml(group.title)}:</p>`,
      '<ul>',
      ...group.lines.map((line) => `<li>${escapeHtml(line)}</li>`),
      '</ul>',
    ]),
    `<p>${link}</p>`,
    `<p><small>${escapeHtml(footer)}</small></p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject, text, html };
}

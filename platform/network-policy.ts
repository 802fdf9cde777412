import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which addresses outbound requests made on a customer's behalf (webhooks) may reach.
 *
 * The rules, in the order they apply:
 * 1. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) and a NAT64 address (64:ff9b::a.b.c.d) are
 *    judged as the IPv4 address they carry, so a mapped form never slips past an IPv4 rule.
 * 2. An address inside one of the operator's allowed networks (METERLINE_WEBHOOK_ALLOW_NETWORKS)
 *    may be reached, whatever its kind: that is how on-premises receivers are allowed.
 * 3. Otherwise only global unicast addresses may be reached. Loopback, link-local (cloud metadata
 *    at 169.254.169.254 among them), private, unique-local, carrier-grade NAT, multicast, broadcast,
 *    unspecified and every other special-purpose range are refused.
 *
 * A name is judged by every address it resolves to: one inward address refuses it, so a name
 * that answers both outward and inward (or rebinds between two lookups) cannot reach inside.
 * Numeric, hex and octal IPv4 spellings (2130706433, 0x7f.1) are left to WHATWG URL parsing,
 * which turns them into dotted quads before anything here sees them.
 */

const RANGE_LABELS: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  carrierGradeNat: 'carrier-grade NAT',
  reserved: 'reserved',
};

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

/** The NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address. */
const NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/** Parses one allowed network: a CIDR (10.0.0.0/8, fd00::/8) or a single address. */
export function parseNetwork(text: string): Network | undefined {
  const trimmed = text.trim();
  try {
    if (trimmed.includes('/')) return ipaddr.parseCIDR(trimmed);
    if (isIP(trimmed) === 0) return undefined;
    const address = ipaddr.parse(trimmed);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

/** The address as the network would reach it: mapped and NAT64 forms become their IPv4 address. */
function effective(address: Address): Address {
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
    if (v6.match(NAT64)) {
      const bytes = v6.toByteArray().slice(12);
      return ipaddr.fromByteArray(bytes);
    }
  }
  return address;
}

/** A host of a URL as `new URL` gives it: IPv6 literals come in brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export class AddressRefusedError extends Error {
  readonly code = 'ERR_ADDRESS_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'AddressRefusedError';
  }
}

export type Resolve = (hostname: string, family: 0 | 4 | 6) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname, family) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, family }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

export interface NetworkPolicyOptions {
  /** CIDRs (or single addresses) that may be reached although they are internal. */
  readonly allowNetworks: readonly string[];
  /** Name resolution; the system resolver (the one sockets use) unless a test swaps it. */
  readonly resolve?: Resolve;
  /** How long registration waits for a name to resolve before accepting it unchecked. */
  readonly registrationLookupMs?: number;
}

export interface NetworkPolicy {
  /** Why this IP address may not be reached, or undefined when it may. */
  refusal(address: string): string | undefined;
  /**
   * Checks a URL when it is registered: credentials, an internal IP literal, or a name that
   * resolves inward right now refuse it. A name that does not resolve (yet) is accepted: every
   * connection checks again.
   */
  checkUrl(url: string): Promise<string | undefined>;
  /** For `http.request({ lookup })`: resolves, refuses before connecting when any address is refused. */
  readonly lookup: LookupFunction;
}

export function buildNetworkPolicy(options: NetworkPolicyOptions): NetworkPolicy {
  const allowed: Network[] = options.allowNetworks.map((text) => {
    const network = parseNetwork(text);
    if (!network) throw new Error(`not a network: ${text}`);
    return network;
  });
  const resolve = options.resolve ?? systemResolve;
  const registrationLookupMs = options.registrationLookupMs ?? 3_000;

  /** The kind of range that refuses this address, or undefined when it may be reached. */
  function refusedRange(text: string): string | undefined {
    let parsed: Address;
    try {
      parsed = ipaddr.parse(text);
    } catch {
      return 'not an IP address';
    }
    const address = effective(parsed);
    if (allowed.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits))) return undefined;
    const range = address.range();
    if (range === 'unicast') return undefined;
    return RANGE_LABELS[range] ?? `special-purpose: ${range}`;
  }

  function refusal(text: string): string | undefined {
    const range = refusedRange(text);
    return range === undefined ? undefined : `address ${text} is not allowed (${range})`;
  }

  /** Every address the name resolves to must be allowed. */
  function refusalOfResolved(hostname: string, addresses: readonly LookupAddress[]): string | undefined {
    for (const { address } of addresses) {
      const range = refusedRange(address);
      if (range !== undefined) return `${hostname} resolves to ${address}, which is not allowed (${range})`;
    }
    return undefined;
  }

  const lookup: LookupFunction = (hostname: string, lookupOptions: LookupOptions, callback) => {
    const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
    resolve(hostname, family).then(
      (addresses) => {
        const first = addresses[0];
        if (!first) {
          callback(Object.assign(new Error(`${hostname} resolves to no address`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        const why = refusalOfResolved(hostname, addresses);
        if (why !== undefined) callback(new AddressRefusedError(why), '', 0);
        else if (lookupOptions.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };

  return {
    refusal,
    lookup,
    async checkUrl(text) {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return 'not a URL';
      }
      if (url.username !== '' || url.password !== '') return 'a webhook URL may not carry credentials (user:password@)';
      const host = hostOf(url);
      if (isIP(host) !== 0) return refusal(host);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((done) => {
        timer = setTimeout(() => done(undefined), registrationLookupMs);
      });
      try {
        const addresses = await Promise.race([resolve(host, 0), timeout]);
        return addresses ? refusalOfResolved(host, addresses) : undefined;
      } catch {
        // Not resolvable now (not yet published, or DNS down): the connection checks it again.
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { buildNetworkPolicy, parseNetwork, type Resolve } from './network-policy.js';

/** A resolver that answers from a table, like a DNS zone the test controls. */
function zone(table: Record<string, readonly string[]>): Resolve {
  return (hostname, family) => {
    const addresses = table[hostname];
    if (!addresses) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
    const all: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    return Promise.resolve(all.filter((entry) => family === 0 || entry.family === family));
  };
}

function lookupOnce(
  policy: ReturnType<typeof buildNetworkPolicy>,
  hostname: string,
  all: boolean,
): Promise<{ error: (Error & { code?: string }) | null; address: string | LookupAddress[]; family?: number }> {
  return new Promise((resolve) => {
    policy.lookup(hostname, { all }, (error, address, family) => resolve({ error, address, ...(family !== undefined ? { family } : {}) }));
  });
}

describe('network policy', () => {
  const strict = buildNetworkPolicy({ allowNetworks: [] });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.16.4.2', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['240.0.0.1', 'reserved'],
  ])('refuses %s (%s)', (address, label) => {
    expect(strict.refusal(address)).toBe(`address ${address} is not allowed (${label})`);
  });

  it('judges mapped and NAT64 IPv6 forms as the IPv4 address they carry', () => {
    expect(strict.refusal('::ffff:7f00:1')).toBe('address ::ffff:7f00:1 is not allowed (loopback)');
    expect(strict.refusal('::ffff:127.0.0.1')).toBe('address ::ffff:127.0.0.1 is not allowed (loopback)');
    expect(strict.refusal('::ffff:a9fe:a9fe')).toBe('address ::ffff:a9fe:a9fe is not allowed (link-local)');
    expect(strict.refusal('64:ff9b::a00:1')).toBe('address 64:ff9b::a00:1 is not allowed (private)');
    expect(strict.refusal('::ffff:93.184.216.34')).toBeUndefined();
    expect(strict.refusal('64:ff9b::5db8:d822')).toBeUndefined();
  });

  it('allows global unicast addresses', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:2800:220:1:248:1893:25c8:1946', '172.32.0.1', '11.0.0.1']) {
      expect(strict.refusal(address)).toBeUndefined();
    }
  });

  it('allows what the operator allows, mapped forms included, and nothing next to it', () => {
    const onPrem = buildNetworkPolicy({ allowNetworks: ['127.0.0.0/8', '10.20.0.0/16', 'fd00::/8', '192.168.1.7'] });
    expect(onPrem.refusal('127.0.0.1')).toBeUndefined();
    expect(onPrem.refusal('::ffff:127.0.0.1')).toBeUndefined();
    expect(onPrem.refusal('10.20.3.4')).toBeUndefined();
    expect(onPrem.refusal('fd00::5')).toBeUndefined();
    expect(onPrem.refusal('192.168.1.7')).toBeUndefined();
    expect(onPrem.refusal('192.168.1.8')).toBe('address 192.168.1.8 is not allowed (private)');
    expect(onPrem.refusal('10.21.0.1')).toBe('address 10.21.0.1 is not allowed (private)');
    expect(onPrem.refusal('::1')).toBe('address ::1 is not allowed (loopback)');
  });

  it('parses allowed networks and refuses what is not one', () => {
    expect(parseNetwork('10.0.0.0/8')?.[1]).toBe(8);
    expect(parseNetwork('::1')?.[1]).toBe(128);
    expect(parseNetwork('10.0.0.0/33')).toBeUndefined();
    expect(parseNetwork('localhost')).toBeUndefined();
    expect(parseNetwork('0x7f.1')).toBeUndefined();
    expect(() => buildNetworkPolicy({ allowNetworks: ['nope'] })).toThrow('not a network: nope');
  });

  describe('at registration', () => {
    const policy = buildNetworkPolicy({
      allowNetworks: [],
      resolve: zone({ 'hooks.example.com': ['93.184.216.34'], 'inside.example.com': ['93.184.216.34', '10.1.2.3'], localhost: ['127.0.0.1', '::1'] }),
    });

    it.each([
      ['http://127.0.0.1/hooks', 'address 127.0.0.1 is not allowed (loopback)'],
      ['http://[::1]:8080/', 'address ::1 is not allowed (loopback)'],
      ['http://0.0.0.0/', 'address 0.0.0.0 is not allowed (unspecified)'],
      ['http://2130706433/', 'address 127.0.0.1 is not allowed (loopback)'],
      ['http://0x7f.1/', 'address 127.0.0.1 is not allowed (loopback)'],
      ['http://017700000001/', 'address 127.0.0.1 is not allowed (loopback)'],
      ['http://[::ffff:127.0.0.1]/', 'address ::ffff:7f00:1 is not allowed (loopback)'],
      ['http://169.254.169.254/latest/meta-data/', 'address 169.254.169.254 is not allowed (link-local)'],
      ['http://localhost:9000/', 'localhost resolves to 127.0.0.1, which is not allowed (loopback)'],
      ['https://inside.example.com/', 'inside.example.com resolves to 10.1.2.3, which is not allowed (private)'],
      ['https://user:pass@hooks.example.com/', 'a webhook URL may not carry credentials (user:password@)'],
    ])('refuses %s', async (url, reason) => {
      expect(await policy.checkUrl(url)).toBe(reason);
    });

    it('accepts a public name, and a name that does not resolve yet (connections check it again)', async () => {
      expect(await policy.checkUrl('https://hooks.example.com/meterline')).toBeUndefined();
      expect(await policy.checkUrl('https://not-yet.example.com/meterline')).toBeUndefined();
    });

    it('does not wait on a resolver that hangs', async () => {
      const hanging = buildNetworkPolicy({ allowNetworks: [], resolve: () => new Promise(() => undefined), registrationLookupMs: 20 });
      expect(await hanging.checkUrl('https://slow.example.com/')).toBeUndefined();
    });
  });

  describe('at connect time', () => {
    it('answers in both forms sockets ask for', async () => {
      const policy = buildNetworkPolicy({ allowNetworks: [], resolve: zone({ 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'] }) });
      expect(await lookupOnce(policy, 'hooks.example.com', true)).toEqual({
        error: null,
        address: [
          { address: '93.184.216.34', family: 4 },
          { address: '2606:2800:220:1::1', family: 6 },
        ],
      });
      expect(await lookupOnce(policy, 'hooks.example.com', false)).toEqual({ error: null, address: '93.184.216.34', family: 4 });
    });

    it('refuses before connecting when any address is inward', async () => {
      const policy = buildNetworkPolicy({ allowNetworks: [], resolve: zone({ 'split.example.com': ['93.184.216.34', '169.254.169.254'] }) });
      const { error } = await lookupOnce(policy, 'split.example.com', true);
      expect(error?.message).toBe('split.example.com resolves to 169.254.169.254, which is not allowed (link-local)');
      expect(error?.code).toBe('ERR_ADDRESS_REFUSED');
    });

    it('passes resolver failures on', async () => {
      const policy = buildNetworkPolicy({ allowNetworks: [], resolve: zone({}) });
      const { error } = await lookupOnce(policy, 'gone.example.com', false);
      expect(error?.code).toBe('ENOTFOUND');
    });
  });
});

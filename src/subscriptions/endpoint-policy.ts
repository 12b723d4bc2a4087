/**
 * Where the server agrees to send notifications, so a Subscription cannot turn
 * it into a way of reaching internal systems (server-side request forgery):
 * - an absolute URL, a scheme from SUBSCRIPTION_ENDPOINT_SCHEMES (https only by
 *   default: the Backport IG "strongly recommends" refusing plain HTTP), no
 *   credentials in it;
 * - a host from SUBSCRIPTION_ENDPOINT_HOSTS when that list is set;
 * - every address the host resolves to public: no loopback, private, link-local,
 *   carrier-grade NAT, multicast or reserved range (IPv4 and IPv6, IPv4-mapped
 *   included) unless SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES.
 * The address check runs when the subscription is accepted AND inside every
 * connection (the `lookup` given to node:http), so a name that later resolves
 * elsewhere (DNS rebinding) is refused at delivery too.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface EndpointSettings {
  schemes: readonly string[];
  /** Exact host names, or `*.domain` for its subdomains; empty: any host. */
  hosts: readonly string[];
  allowPrivateAddresses: boolean;
}

const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** Whether an address may be reached: public only, unless configured otherwise. */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPublicAddress(mapped[1]);
  const family = isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class EndpointRefused extends Error {}

export class EndpointPolicy {
  constructor(private readonly settings: EndpointSettings) {}

  /** Checks the URL itself (scheme, credentials, host list); returns it parsed. */
  checkUrl(endpoint: string): URL {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new EndpointRefused(`'${endpoint}' is not an absolute URL`);
    }
    const scheme = url.protocol.replace(/:$/, '');
    if (!this.settings.schemes.includes(scheme)) throw new EndpointRefused(`the ${scheme}: scheme is not allowed for notifications (allowed: ${this.settings.schemes.join(', ')})`);
    if (url.username || url.password) throw new EndpointRefused('an endpoint URL may not carry credentials (use channel.header)');
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.settings.hosts.length > 0 && !this.settings.hosts.some((allowed) => (allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) : host === allowed.toLowerCase()))) {
      throw new EndpointRefused(`${host} is not among the hosts notifications may be sent to (SUBSCRIPTION_ENDPOINT_HOSTS)`);
    }
    return url;
  }

  /** Checks the URL and every address its host resolves to now. */
  async check(endpoint: string): Promise<URL> {
    const url = this.checkUrl(endpoint);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [host] : await new Promise<string[]>((resolve, reject) => {
      dnsLookup(host, { all: true }, (error, found) => (error ? reject(new EndpointRefused(`${host} does not resolve (${error.code ?? error.message})`)) : resolve(found.map((a) => a.address))));
    });
    this.checkAddresses(host, addresses);
    return url;
  }

  /** A `lookup` for node:http that refuses non-public addresses at connection time. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, found) => {
      if (error) return (callback as (e: Error | null, a: LookupAddress[]) => void)(error, []);
      try {
        this.checkAddresses(hostname, (found as LookupAddress[]).map((a) => a.address));
      } catch (refused) {
        return (callback as (e: Error | null, a: LookupAddress[]) => void)(refused as Error, []);
      }
      if ((options as { all?: boolean }).all) return (callback as (e: Error | null, a: LookupAddress[]) => void)(null, found as LookupAddress[]);
      const first = (found as LookupAddress[])[0];
      return (callback as (e: Error | null, a: string, f: number) => void)(null, first.address, first.family);
    });
  };

  private checkAddresses(host: string, addresses: string[]): void {
    if (this.settings.allowPrivateAddresses) return;
    const refused = addresses.find((a) => !isPublicAddress(a));
    if (refused !== undefined) throw new EndpointRefused(`${host} resolves to ${refused}, a loopback, private, link-local or reserved address (SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES is off)`);
  }
}

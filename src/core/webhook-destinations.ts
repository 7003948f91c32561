import { lookup as dnsLookup, promises as dnsPromises, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where webhooks may go. A business types its webhook URL, so without this check anyone
 * with an admin key could make Callwatch POST into its own network (SSRF): loopback,
 * private, link-local (cloud metadata at 169.254.169.254), CGNAT and unique-local addresses
 * are refused unless the operator allow-lists them (WEBHOOK_ALLOWED_NETWORKS). The check is
 * made on the address actually connected to (in the socket's DNS lookup), so a name that
 * resolves differently between a check and the request cannot slip through.
 */
export class WebhookDestinations {
  readonly #allowed = new BlockList();

  constructor(allowedNetworks: readonly string[]) {
    for (const network of allowedNetworks) addNetwork(this.#allowed, network);
  }

  /** Why `address` may not receive webhooks, or null when it may. */
  refusal(address: string): string | null {
    const ip = unmapped(address);
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (this.#allowed.check(ip, family)) return null;
    if (reserved.check(ip, family)) return `${ip} is a private or loopback address (allow it with WEBHOOK_ALLOWED_NETWORKS)`;
    return null;
  }

  /** Whether `address` is in WEBHOOK_ALLOWED_NETWORKS. */
  allowListed(address: string): boolean {
    const ip = unmapped(address);
    return this.#allowed.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }

  /** Why a URL's scheme or literal address may not receive webhooks (an address in the URL is never looked up), or null. */
  urlRefusal(target: URL): string | null {
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return `${target.protocol} URLs are not supported`;
    const literal = hostAddress(target);
    return isIP(literal) ? this.refusal(literal) : null;
  }

  /**
   * Why `target` may not receive webhooks, checked now, when it is saved: its scheme, its
   * literal address, or — for a name — the addresses it resolves to, by the rule the sender
   * applies when it connects (refused when none is usable). A name that does not resolve
   * now is not refused here (DNS may be down or not set up yet): the send-time check in
   * `lookup` still holds every connection. Returns the usable addresses with the verdict.
   */
  async savedUrlRefusal(target: URL): Promise<{ refusal: string | null; addresses: string[] }> {
    const refusal = this.urlRefusal(target);
    const literal = hostAddress(target);
    if (refusal || isIP(literal)) return { refusal, addresses: refusal ? [] : [literal] };
    const addresses = await lookupWithin(literal, saveLookupTimeoutMs);
    if (!addresses) return { refusal: null, addresses: [] };
    const usable = addresses.filter((address) => this.refusal(address.address) === null);
    if (usable.length === 0) return { refusal: this.#refusedName(literal, addresses), addresses: [] };
    return { refusal: null, addresses: usable.map((address) => address.address) };
  }

  /** A `lookup` for http.request that fails the connection when the name resolves to a refused address. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const usable = addresses.filter((address) => this.refusal(address.address) === null);
      const first = usable[0];
      if (!first) {
        const refused = new Error(`refused: ${this.#refusedName(hostname, addresses)}`);
        (refused as NodeJS.ErrnoException).code = 'EWEBHOOKREFUSED';
        return callback(refused, '', 0);
      }
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, usable);
      callback(null, first.address, first.family);
    });
  };

  #refusedName(hostname: string, addresses: LookupAddress[]): string {
    return `${hostname} resolves to ${addresses.map((a) => a.address).join(', ')}: ${this.refusal(addresses[0]?.address ?? '') ?? 'no address'}`;
  }
}

/** A slow resolver must not hold up a settings change: past this the name counts as not resolving. */
const saveLookupTimeoutMs = 3000;

/** Every address `hostname` resolves to, or null when it does not resolve within `timeoutMs`. */
async function lookupWithin(hostname: string, timeoutMs: number): Promise<LookupAddress[] | null> {
  const lookup = dnsPromises.lookup(hostname, { all: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    return await Promise.race([lookup, timeout]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    // A lookup that fails after the timeout has no one to tell.
    lookup.catch(() => {});
  }
}

/** The host of a URL without IPv6 brackets. */
function hostAddress(target: URL): string {
  return target.hostname.replace(/^\[|\]$/g, '');
}

/** Ranges no public webhook receiver lives in (IANA special-purpose registries). */
const reserved = new BlockList();
for (const network of [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
]) {
  addNetwork(reserved, network);
}

function addNetwork(list: BlockList, network: string): void {
  const [address = '', prefix] = network.split('/');
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(address, family);
  else list.addSubnet(address, Number(prefix), family);
}

/** `::ffff:10.0.0.1` is 10.0.0.1. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match?.[1] ?? address;
}

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
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

  /** A `lookup` for http.request that fails the connection when the name resolves to a refused address. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const usable = addresses.filter((address) => this.refusal(address.address) === null);
      const first = usable[0];
      if (!first) {
        const refused = new Error(`refused: ${hostname} resolves to ${addresses.map((a) => a.address).join(', ')}: ${this.refusal(addresses[0]?.address ?? '') ?? 'no address'}`);
        (refused as NodeJS.ErrnoException).code = 'EWEBHOOKREFUSED';
        return callback(refused, '', 0);
      }
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, usable);
      callback(null, first.address, first.family);
    });
  };
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

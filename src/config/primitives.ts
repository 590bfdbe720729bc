import { isIP } from 'node:net';
import { z } from 'zod';
import { parseListenAddress } from './address.js';

/** Building blocks shared by the configuration schemas. */

export const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, ".", "_" and "-"');
/** An endpoint id: a name, or the default `host:port` form (`10.0.0.5:3000`, `[::1]:8080`). */
export const endpointId = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9[][A-Za-z0-9_.:[\]-]*$/, 'use letters, digits, ".", "_", "-", ":" and brackets');

export const milliseconds = z.number().int().min(1).max(86_400_000);

export const listenAddress = z
  .string()
  .refine((text) => parseListenAddress(text) !== undefined, 'expected "host:port", "[v6]:port" or ":port"');

export const cidr = z.string().refine((text) => {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'expected an IP address or CIDR such as 10.0.0.0/8 or ::1');

/**
 * An endpoint's address as a URL origin: `http://` or `https://` (re-encrypted) for HTTP services; `tcp://host:port`
 * or `udp://host:port` for endpoints only L4 listeners use (any scheme gives L4 listeners the host and port).
 */
export const endpointUrl = z
  .url({ protocol: /^(https?|tcp|udp)$/, error: 'expected an http://, https://, tcp:// or udp:// URL' })
  .refine((text) => {
    if (!URL.canParse(text)) return true; // z.url() already reported it
    const url = new URL(text);
    return (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '' && url.username === '';
  }, 'an endpoint URL is an origin only (scheme, host, port): no path, query or credentials')
  .refine((text) => {
    if (!URL.canParse(text)) return true;
    const url = new URL(text);
    return (url.protocol !== 'tcp:' && url.protocol !== 'udp:') || url.port !== '';
  }, 'a tcp:// or udp:// endpoint needs a port');

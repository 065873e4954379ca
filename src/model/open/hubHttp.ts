// One HTTP(S) request for the Hub client, directly or through a proxy (an absolute-URL request for
// http targets, a CONNECT tunnel for https ones), cancelled by an AbortSignal.
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';

export interface Proxy {
  readonly url: URL;
}

/** The proxy for `target`: the one passed in (VS Code's http.proxy), else https_proxy / http_proxy, unless no_proxy names the host. */
export function proxyFor(target: URL, explicit: string | undefined, env: NodeJS.ProcessEnv): Proxy | undefined {
  const fromEnv =
    target.protocol === 'https:'
      ? (env['https_proxy'] ?? env['HTTPS_PROXY'] ?? env['http_proxy'] ?? env['HTTP_PROXY'])
      : (env['http_proxy'] ?? env['HTTP_PROXY']);
  const raw = explicit || fromEnv;
  if (!raw) return undefined;
  const noProxy = (env['no_proxy'] ?? env['NO_PROXY'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const host = target.hostname.toLowerCase();
  if (noProxy.some((n) => n === '*' || host === n.replace(/^\./, '') || host.endsWith(n.startsWith('.') ? n : `.${n}`)))
    return undefined;
  return { url: new URL(raw.includes('://') ? raw : `http://${raw}`) };
}

function proxyAuth(p: Proxy): Record<string, string> {
  if (!p.url.username) return {};
  const cred = `${decodeURIComponent(p.url.username)}:${decodeURIComponent(p.url.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(cred).toString('base64')}` };
}

function tunnel(p: Proxy, target: URL, signal?: AbortSignal): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const port = target.port || '443';
    const req = http.request({
      host: p.url.hostname,
      port: p.url.port || 80,
      method: 'CONNECT',
      path: `${target.hostname}:${port}`,
      headers: { host: `${target.hostname}:${port}`, ...proxyAuth(p) },
      signal,
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`the proxy ${p.url.host} refused the tunnel to ${target.host} (HTTP ${res.statusCode})`));
      } else resolve(socket);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function openRequest(
  url: URL,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
  proxy: Proxy | undefined,
  signal?: AbortSignal,
): Promise<http.IncomingMessage> {
  let req: http.ClientRequest;
  if (proxy && url.protocol === 'http:') {
    req = http.request({
      host: proxy.url.hostname,
      port: proxy.url.port || 80,
      method,
      path: url.href,
      headers: { host: url.host, ...headers, ...proxyAuth(proxy) },
      signal,
    });
  } else if (proxy) {
    const socket = await tunnel(proxy, url, signal);
    req = https.request(url, {
      method,
      headers,
      signal,
      createConnection: () => tls.connect({ socket, servername: url.hostname }),
    });
  } else {
    req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, signal });
  }
  return new Promise((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

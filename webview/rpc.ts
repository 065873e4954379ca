// The webview's end of the one Channel (shared/channel.ts): requests to the host with ids,
// exactly-once settlement and a timeout. The host's replies are fed in with receive/settle.
import { Channel, type RequestOptions, type WireError } from '../shared/channel';
import {
  REQUEST_TIMEOUT_MS,
  type HostMessage,
  type Request,
  type ResponseMap,
  type WebviewMessage,
} from '../shared/protocol';

type Kind = Request['kind'];

export class Rpc {
  private readonly channel: Channel<Request, ResponseMap>;

  constructor(send: (msg: WebviewMessage) => void, timeoutMs = REQUEST_TIMEOUT_MS) {
    // VS Code's webview postMessage takes no transfer list: typed arrays are cloned.
    this.channel = new Channel<Request, ResponseMap>({ post: (m) => send(m as WebviewMessage), timeoutMs });
  }

  request<K extends Kind>(request: Extract<Request, { kind: K }>, options?: RequestOptions): Promise<ResponseMap[K]> {
    return this.channel.request(request, options);
  }

  /** Feeds a host message; false if it is not a reply (a trace, a cursor move, …). */
  receive(msg: HostMessage): boolean {
    return this.channel.receive(msg);
  }

  /** Settles the request with this id; later or unknown responses are ignored (false). */
  settle(id: number, ok: boolean, value: unknown): boolean {
    if (!this.channel.isPending(id)) return false;
    const error: WireError =
      typeof value === 'object' && value !== null && 'message' in value
        ? (value as WireError)
        : { message: String(value) };
    this.channel.receive(
      ok ? { type: 'response', id, ok: true, result: value } : { type: 'response', id, ok: false, error },
    );
    return true;
  }

  get size(): number {
    return this.channel.pending;
  }
}

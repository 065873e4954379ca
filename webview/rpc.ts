// Request/response over postMessage: ids, exactly-once settlement, and a timeout.
import { REQUEST_TIMEOUT_MS, type Request, type ResponseMap, type WebviewMessage } from '../shared/protocol';

type Kind = Request['kind'];

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly send: (msg: WebviewMessage) => void,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  request<K extends Kind>(request: Extract<Request, { kind: K }>): Promise<ResponseMap[K]> {
    const id = this.nextId++;
    return new Promise<ResponseMap[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`${request.kind} timed out after ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.send({ type: 'request', id, request });
    });
  }

  /** Settles the request with this id; later or unknown responses are ignored. */
  settle(id: number, ok: boolean, value: unknown): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(new Error(String(value)));
    return true;
  }

  get size(): number {
    return this.pending.size;
  }
}

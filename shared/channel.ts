// One typed request/response channel over any postMessage boundary: the webview ⇄ host and the
// host ⇄ inference worker use the same class (as vscode-hexeditor's MessageHandler serves both
// its webview and its diff worker). Each side may ask (requests with ids, exactly-once
// settlement, timeouts, cancel, progress) and serve (handlers keyed by the request's `kind`).
// The channel never listens by itself: its owner feeds it incoming messages with receive().

/** An error as it crosses the boundary; `code` is stable for callers (e.g. 'cancelled', 'timeout'). */
export interface WireError {
  readonly message: string;
  readonly code?: string;
}

export interface RequestMessage<R> {
  readonly type: 'request';
  readonly id: number;
  readonly request: R;
}
export interface CancelMessage {
  readonly type: 'cancel';
  readonly id: number;
}
export type ResponseMessage<T = unknown> =
  | { readonly type: 'response'; readonly id: number; readonly ok: true; readonly result: T }
  | { readonly type: 'response'; readonly id: number; readonly ok: false; readonly error: WireError };
export interface ProgressMessage {
  readonly type: 'progress';
  readonly id: number;
  readonly fraction: number;
  readonly message: string;
  /** A part of the answer sent ahead of it (a streamed run's stages so far); its buffers may be transferred. */
  readonly partial?: unknown;
}

/** Everything a channel posts: its own requests and cancels, and its answers to the other side's. */
export type ChannelMessage<Ask = unknown> = RequestMessage<Ask> | CancelMessage | ResponseMessage | ProgressMessage;

/** Requests are tagged unions on `kind`; a response map names each kind's result type. */
export type Kinded = { readonly kind: string };
export type ResponsesFor<R extends Kinded> = { readonly [K in R['kind']]: unknown };

export interface HandlerContext {
  /** Aborted when the asker cancels this request. */
  readonly signal: AbortSignal;
  progress(fraction: number, message: string): void;
  /** Progress with a part of the answer ahead of it (the asker's onPartial gets it); transferred as results are. */
  partial(fraction: number, message: string, payload: unknown): void;
}

export type Handlers<Serve extends Kinded, ServeRes extends ResponsesFor<Serve>> = {
  readonly [K in Serve['kind']]: (
    request: Extract<Serve, { kind: K }>,
    context: HandlerContext,
  ) => ServeRes[K] | Promise<ServeRes[K]>;
};

export interface RequestOptions {
  /** Overrides the channel's default; undefined and no default = wait for ever (a long model load). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
  /** A part of the answer sent ahead of it (HandlerContext.partial); progress messages without one do not call it. */
  readonly onPartial?: (payload: unknown) => void;
}

/** One request in flight. cancel() asks the other side to stop; the answer (usually a 'cancelled' error) settles it. */
export interface Call<T> {
  readonly id: number;
  readonly promise: Promise<T>;
  cancel(): void;
}

export interface ChannelOptions<Serve extends Kinded, ServeRes extends ResponsesFor<Serve>> {
  /** Sends one message; `transfer` lists buffers that may be moved instead of copied. */
  readonly post: (message: ChannelMessage, transfer: ArrayBuffer[]) => void;
  readonly handlers?: Handlers<Serve, ServeRes>;
  /** Default timeout for this side's requests, in ms. */
  readonly timeoutMs?: number;
  /**
   * Transfer the typed arrays of the results this side sends (the worker: a trace it keeps no
   * reference to). Off by default: a host that answers from its session must keep its arrays.
   */
  readonly transferResults?: boolean;
  /** Turns a remote error into the caller's error class. */
  readonly errorOf?: (error: WireError) => Error;
  /** Told about every handler that threw (the answer to the asker is sent regardless). */
  readonly onHandlerError?: (kind: string, error: WireError) => void;
}

interface Pending {
  readonly kind: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly onProgress?: (fraction: number, message: string) => void;
  readonly onPartial?: (payload: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export class ChannelError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

export class Channel<
  Ask extends Kinded = never,
  AskRes extends ResponsesFor<Ask> = never,
  Serve extends Kinded = never,
  ServeRes extends ResponsesFor<Serve> = never,
> {
  private nextId = 1;
  private readonly pendingCalls = new Map<number, Pending>();
  private readonly serving = new Map<number, AbortController>();
  private readonly errorOf: (error: WireError) => Error;

  constructor(private readonly options: ChannelOptions<Serve, ServeRes>) {
    this.errorOf = options.errorOf ?? ((e) => new ChannelError(e.message, e.code));
  }

  /** Sends a request; the call's promise settles exactly once (response, error, timeout or failAll). */
  call<K extends Ask['kind']>(request: Extract<Ask, { kind: K }>, options: RequestOptions = {}): Call<AskRes[K]> {
    const id = this.nextId++;
    const kind = request.kind;
    const promise = new Promise<AskRes[K]>((resolve, reject) => {
      const p: Pending = {
        kind,
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: options.onProgress,
        onPartial: options.onPartial,
      };
      const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
      if (timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          if (!this.pendingCalls.delete(id)) return;
          this.options.post({ type: 'cancel', id }, []);
          reject(this.errorOf({ message: `${kind} timed out after ${timeoutMs / 1000} s`, code: 'timeout' }));
        }, timeoutMs);
      }
      this.pendingCalls.set(id, p);
    });
    const cancel = (): void => {
      if (this.pendingCalls.has(id)) this.options.post({ type: 'cancel', id }, []);
    };
    if (options.signal?.aborted) queueMicrotask(cancel);
    else options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      this.options.post({ type: 'request', id, request }, []);
    } catch (err) {
      // Could not be sent (e.g. a value that cannot be cloned): settle now, not at the timeout.
      const p = this.pendingCalls.get(id);
      this.pendingCalls.delete(id);
      clearTimeout(p?.timer);
      p?.reject(this.errorOf(wireError(err)));
    }
    return { id, promise, cancel };
  }

  request<K extends Ask['kind']>(request: Extract<Ask, { kind: K }>, options?: RequestOptions): Promise<AskRes[K]> {
    return this.call(request, options).promise;
  }

  isPending(id: number): boolean {
    return this.pendingCalls.has(id);
  }

  /** How many of this side's requests await an answer. */
  get pending(): number {
    return this.pendingCalls.size;
  }

  /** Rejects every request in flight (the other side died or was replaced). */
  failAll(error: Error): void {
    const all = [...this.pendingCalls.values()];
    this.pendingCalls.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    for (const c of this.serving.values()) c.abort();
    this.serving.clear();
  }

  /**
   * Feeds one incoming message. Returns false for messages that are not the channel's (the
   * boundary's own events: 'trace', 'ready', …), so the owner handles those.
   */
  receive(message: unknown): boolean {
    if (!isChannelMessage(message)) return false;
    switch (message.type) {
      case 'response': {
        const p = this.pendingCalls.get(message.id);
        // Late (after a timeout) or unknown: ignored, but it was ours.
        if (!p) return true;
        this.pendingCalls.delete(message.id);
        clearTimeout(p.timer);
        if (message.ok) p.resolve(message.result);
        else p.reject(this.errorOf(message.error));
        return true;
      }
      case 'progress': {
        const p = this.pendingCalls.get(message.id);
        p?.onProgress?.(message.fraction, message.message);
        if (message.partial !== undefined) p?.onPartial?.(message.partial);
        return true;
      }
      case 'cancel':
        this.serving.get(message.id)?.abort();
        return true;
      case 'request':
        void this.serve(message as RequestMessage<Serve>);
        return true;
    }
  }

  private async serve(message: RequestMessage<Serve>): Promise<void> {
    const { id, request } = message;
    const controller = new AbortController();
    this.serving.set(id, controller);
    const context: HandlerContext = {
      signal: controller.signal,
      progress: (fraction, text) => {
        if (!controller.signal.aborted) this.options.post({ type: 'progress', id, fraction, message: text }, []);
      },
      partial: (fraction, text, payload) => {
        if (controller.signal.aborted) return;
        const transfer = this.options.transferResults ? transferables(payload) : [];
        this.options.post({ type: 'progress', id, fraction, message: text, partial: payload }, transfer);
      },
    };
    let reply: ResponseMessage;
    let transfer: ArrayBuffer[] = [];
    try {
      const handler = (
        this.options.handlers as Record<string, ((r: Serve, c: HandlerContext) => unknown) | undefined> | undefined
      )?.[request.kind];
      if (!handler) throw new ChannelError(`no handler for request "${request.kind}"`, 'unsupported');
      const result = await handler(request, context);
      if (this.options.transferResults) transfer = transferables(result);
      reply = { type: 'response', id, ok: true, result };
    } catch (err) {
      const error = wireError(err);
      this.options.onHandlerError?.(request.kind, error);
      reply = { type: 'response', id, ok: false, error };
    } finally {
      this.serving.delete(id);
    }
    this.options.post(reply, transfer);
  }
}

const CHANNEL_TYPES = new Set(['request', 'response', 'cancel', 'progress']);

function isChannelMessage(m: unknown): m is ChannelMessage<Kinded> {
  if (typeof m !== 'object' || m === null) return false;
  const { type, id } = m as { type?: unknown; id?: unknown };
  return typeof type === 'string' && CHANNEL_TYPES.has(type) && typeof id === 'number';
}

/** An error as the other side sees it: message and, where the thrower set one, its code. */
export function wireError(err: unknown): WireError {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { message, code } : { message };
}

/**
 * Every distinct ArrayBuffer under a value's typed arrays (objects and arrays walked, each once),
 * for postMessage's transfer list. Shared memory cannot be transferred and is left out.
 */
export function transferables(value: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) buffers.add(v.buffer);
      return;
    }
    if (v instanceof ArrayBuffer) {
      buffers.add(v);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(value);
  return [...buffers];
}

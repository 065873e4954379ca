// *.attention.json parsed off the extension host's thread. A config within its size cap (8 MB) can
// take seconds to parse and check, and the host's event loop serves every extension and the editor,
// so a text longer than INLINE_CHARS goes to a small worker thread (dist/configWorker.js: the parser
// and jsonc-parser only, no tfjs) that is started on first use and stopped when idle. A parse that
// does not answer within the timeout stops that thread and is reported as one problem; the next
// parse starts a fresh one. Short texts (a few ms to parse) are parsed in place. Only the problems
// and the config's kind, title, model and input come back (checkAttentionConfig), not its matrices:
// copying millions of numbers back would stall the host as the parse did.
import { Worker } from 'node:worker_threads';
import { Channel, type WireError } from '../../shared/channel';
import { MAX_BYTES } from '../model/formats/files';
import { checkAttentionConfig, type CheckedConfig } from '../model/formats/attentionConfig';
import type { ConfigWorkerRequest, ConfigWorkerResponses } from '../worker/configWorker';

/** Texts up to this many characters are parsed on the host (≈ 10 ms: measured 0.4 µs a character). */
export const INLINE_CHARS = 32 * 1024;
/** How long a parse may take in the worker before it is stopped. */
export const PARSE_TIMEOUT_MS = 30_000;
/** The worker is stopped after this long without a parse. */
export const IDLE_MS = 60_000;

export interface ConfigCheckerOptions {
  readonly inlineChars?: number;
  readonly timeoutMs?: number;
  readonly idleMs?: number;
}

class CheckerError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const whole = (message: string): CheckedConfig => ({
  problems: [{ message, offset: 0, length: 1, severity: 'error' }],
});

export class ConfigChecker {
  private worker: Worker | undefined;
  private channel: Channel<ConfigWorkerRequest, ConfigWorkerResponses> | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private pending = 0;
  /** Worker threads started so far (a timeout or a crash means the next parse starts another). */
  started = 0;
  private readonly inlineChars: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;

  constructor(
    private readonly workerPath: string,
    options: ConfigCheckerOptions = {},
  ) {
    this.inlineChars = options.inlineChars ?? INLINE_CHARS;
    this.timeoutMs = options.timeoutMs ?? PARSE_TIMEOUT_MS;
    this.idleMs = options.idleMs ?? IDLE_MS;
  }

  /** Whether a worker thread is running now. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** The config's problems (and the config when it has no error), never blocking the host for long. */
  async parse(text: string): Promise<CheckedConfig> {
    // Over the cap, parseAttentionConfig only measures the length: no need for a thread.
    if (text.length <= this.inlineChars || text.length > MAX_BYTES['attention-json']) return checkAttentionConfig(text);
    const channel = this.start();
    this.pending++;
    clearTimeout(this.idle);
    try {
      return await channel.request({ kind: 'parse', text }, { timeoutMs: this.timeoutMs });
    } catch (err) {
      const e = err as CheckerError;
      if (e.code === 'timeout') {
        this.stop();
        return whole(
          `This attention config (${text.length} characters) could not be checked within ${this.timeoutMs / 1000} s; the checker was stopped.`,
        );
      }
      return whole(`This attention config could not be checked: ${e.message}`);
    } finally {
      this.pending--;
      if (this.pending === 0 && this.worker) {
        clearTimeout(this.idle);
        this.idle = setTimeout(() => this.stop(), this.idleMs);
        this.idle.unref?.();
      }
    }
  }

  private start(): Channel<ConfigWorkerRequest, ConfigWorkerResponses> {
    if (this.channel) return this.channel;
    // The parse tree of an 8 MB config needs a few hundred MB at most; past the limit only this thread dies.
    const worker = new Worker(this.workerPath, { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    this.started++;
    const channel = new Channel<ConfigWorkerRequest, ConfigWorkerResponses>({
      post: (message) => worker.postMessage(message),
      errorOf: (e: WireError) => new CheckerError(e.message, e.code),
    });
    worker.on('message', (m: unknown) => channel.receive(m));
    const gone = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.channel = undefined;
      channel.failAll(new CheckerError(why, 'crashed'));
    };
    worker.on('error', (err) => gone(`the checker thread failed (${err.message}).`));
    worker.on('exit', (code) => gone(`the checker thread stopped (exit code ${code}).`));
    worker.unref();
    this.worker = worker;
    this.channel = channel;
    return channel;
  }

  private stop(): void {
    clearTimeout(this.idle);
    const worker = this.worker;
    const channel = this.channel;
    this.worker = undefined;
    this.channel = undefined;
    channel?.failAll(new CheckerError('the checker thread was stopped.', 'stopped'));
    void worker?.terminate();
  }

  dispose(): void {
    this.stop();
  }
}

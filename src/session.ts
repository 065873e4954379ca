// The current run: its trace, where its text came from, and the stage cursor. Views read it;
// commands move the cursor. Nothing else in the extension keeps attention state.
import * as vscode from 'vscode';
import type { Trace } from '../shared/trace';
import { DEFAULT_CURSOR, type Cursor, type RunRef } from '../shared/protocol';
import type { RunRequest } from '../shared/workerProtocol';

export interface Source {
  readonly uri: string;
  /** Document version the trace was computed on; a later version makes the trace stale. */
  readonly version: number;
  /** Offset (UTF-16) in the document where the trace's text starts. */
  readonly offset: number;
}

/** What changed, and who changed it: a view does not re-render a cursor move it made itself. */
export interface SessionChange {
  readonly what: 'trace' | 'cursor';
  readonly origin?: object;
}

export class Session implements vscode.Disposable {
  private current: { trace: Trace; source?: Source; cursor: Cursor; run?: RunRef; key: number } | undefined;
  private keys = 0;
  private readonly changed = new vscode.EventEmitter<SessionChange>();
  readonly onDidChange = this.changed.event;

  get trace(): Trace | undefined {
    return this.current?.trace;
  }
  get source(): Source | undefined {
    return this.current?.source;
  }
  /** The request the trace was made with (its model id as the worker names it), when a run made it. */
  get request(): RunRequest | undefined {
    return this.current?.run?.request;
  }
  get cursor(): Cursor {
    return this.current?.cursor ?? DEFAULT_CURSOR;
  }
  /** Names this trace in the panel's fetches: a fetch for a replaced trace is refused, not answered wrong. */
  get key(): number {
    return this.current?.key ?? -1;
  }
  /** How to make this run again (a reload re-runs it), if it can be. */
  get run(): RunRef | undefined {
    return this.current?.run;
  }

  set(trace: Trace, source: Source | undefined, cursor: Cursor = DEFAULT_CURSOR, run?: RunRef): void {
    this.current = { trace, source, cursor, run, key: ++this.keys };
    this.changed.fire({ what: 'trace' });
  }

  /** `origin` is the view that moved it (the panel), so it is not told of its own move. */
  moveCursor(cursor: Cursor, origin?: object): void {
    if (!this.current) return;
    this.current = { ...this.current, cursor };
    this.changed.fire({ what: 'cursor', origin });
  }

  clear(): void {
    this.current = undefined;
    this.changed.fire({ what: 'trace' });
  }

  dispose(): void {
    this.changed.dispose();
  }
}

// Just enough of the vscode API to run the panel and the session in plain Node: event emitters,
// URIs, and a webview panel that records what the host posts and lets a test post back.
import Module from 'node:module';

type Listener<T> = (e: T) => void;

class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (l: Listener<T>): { dispose(): void } => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

const Uri = {
  joinPath: (base: { path: string }, ...parts: string[]) => ({
    path: [base.path, ...parts].join('/'),
    toString: () => [base.path, ...parts].join('/'),
  }),
  file: (p: string) => ({ path: p, fsPath: p, toString: () => p }),
};

export interface FakeWebviewPanel {
  readonly posted: unknown[];
  /** The webview posting a message to the host. */
  send(message: unknown): Promise<void>;
  reveals: number;
  /** When set, postMessage rejects with this error (as VS Code's does on a DataCloneError). */
  failPosts?: string;
  dispose(): void;
}

/** Error notifications shown, in order. */
export const errorsShown: string[] = [];

export const created: FakeWebviewPanel[] = [];

function createWebviewPanel(): unknown {
  const received = new EventEmitter<unknown>();
  const viewState = new EventEmitter<unknown>();
  const disposed = new EventEmitter<void>();
  const handlers: Promise<unknown>[] = [];
  const fake: FakeWebviewPanel & Record<string, unknown> = {
    posted: [],
    reveals: 0,
    send: async (message) => {
      received.fire(message);
      // Let the host's async handlers (requests) run to their answer.
      await new Promise((r) => setTimeout(r, 0));
      await Promise.all(handlers);
    },
    webview: {
      html: '',
      options: {},
      cspSource: 'vscode-resource:',
      asWebviewUri: (u: unknown) => u,
      postMessage: (m: unknown) => {
        if (fake.failPosts) return Promise.reject(new Error(fake.failPosts));
        fake.posted.push(m);
        return Promise.resolve(true);
      },
      onDidReceiveMessage: received.event,
    },
    viewColumn: 2,
    active: true,
    onDidChangeViewState: viewState.event,
    onDidDispose: disposed.event,
    reveal: () => {
      fake.reveals++;
    },
    dispose: () => disposed.fire(),
  };
  created.push(fake);
  return fake;
}

export const fakeVscode = {
  EventEmitter,
  Uri,
  ViewColumn: { Beside: -2, One: 1 },
  window: {
    createWebviewPanel,
    showSaveDialog: async () => undefined,
    showErrorMessage: async (m: string) => void errorsShown.push(m),
  },
  workspace: { fs: { readFile: async () => new Uint8Array(), writeFile: async () => {} }, workspaceFolders: undefined },
};

/** Makes `import * as vscode from 'vscode'` resolve to the fake in modules loaded after this call. */
export function installFakeVscode(): void {
  const m = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = m._load;
  m._load = (request, ...rest) => (request === 'vscode' ? fakeVscode : load(request, ...rest));
}

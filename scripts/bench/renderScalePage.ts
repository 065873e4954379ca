// Runs in Chromium before the real panel script (dist/webview.js), bundled by renderScale.ts: the
// VS Code webview API the panel expects, with the host behind fetch() to the bench's Node process
// (binary bodies: typed arrays travel as raw bytes, not JSON), answered by window.postMessage so
// the panel receives structured-cloned messages as a VS Code webview does. Also the timed cursor
// moves the bench calls (window.benchMove), each clicking the panel's own controls.
import { decodeBinary } from './binaryMessage';

interface Api {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}

let saved: unknown;

async function call(what: string, body: unknown): Promise<unknown> {
  const r = await fetch(`/bench/${what}`, { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(await r.text());
  return decodeBinary(await r.arrayBuffer());
}

const w = window as unknown as {
  acquireVsCodeApi: () => Api;
  benchIndexMs?: number;
  benchMove: (what: string, arg?: string) => Promise<number>;
  benchLog: string[];
};
w.benchLog = [];

w.acquireVsCodeApi = () => ({
  postMessage: (msg: unknown) => {
    const m = msg as { type: string; id?: number; request?: unknown; message?: string };
    if (m.type === 'ready') {
      const t0 = performance.now();
      void call('ready', {}).then((trace) => {
        w.benchIndexMs = performance.now() - t0;
        window.postMessage(trace, '*');
      });
    } else if (m.type === 'request') {
      void call('request', m.request).then(
        (result) => window.postMessage({ type: 'response', id: m.id, ok: true, result }, '*'),
        (err: Error) =>
          window.postMessage({ type: 'response', id: m.id, ok: false, error: { message: err.message } }, '*'),
      );
    } else if (m.type === 'log') w.benchLog.push(String(m.message));
  },
  getState: () => saved,
  setState: (s: unknown) => void (saved = s),
});

const q = (sel: string): HTMLElement | null => document.querySelector(sel);
const title = (): string => q('[data-testid="stage-title"]')?.textContent ?? '';
const caption = (testid: string): string =>
  q(`figure:has([data-testid="heatmap-${testid}"]) figcaption`)?.textContent ?? '';
/** The weights' caption names head `h` (a pooling or zoom note may follow it). */
const showsHead = (h: string): boolean => new RegExp(`· head ${h}(?!\\d)`).test(caption('weights'));

/** Resolves when `cond` holds, checked on every change of the panel's DOM. */
function when(cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const obs = new MutationObserver(() => {
      if (cond()) {
        obs.disconnect();
        clearTimeout(timer);
        resolve();
      }
    });
    const timer = setTimeout(() => {
      obs.disconnect();
      reject(
        new Error(
          `timed out; title "${title()}", caption "${caption('weights')}", banner "${q('.banner')?.textContent ?? ''}"`,
        ),
      );
    }, timeoutMs);
    obs.observe(document.getElementById('app')!, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
  });
}

const frame = (): Promise<void> => new Promise((r) => requestAnimationFrame(() => r()));

/** One timed move: the click, until the panel shows what it asked for (drawing is synchronous in the store's dispatch). */
w.benchMove = async (what, arg) => {
  const t0 = performance.now();
  if (what === 'first') {
    await when(() => /attention weights/.test(title()) && q('[data-testid="heatmap-weights"]') !== null);
  } else if (what === 'head') {
    q('[aria-label="Next head"]')!.click();
    await when(() => showsHead(arg!));
  } else if (what === 'headTo') {
    const sel = q('[data-testid="head-select"]') as HTMLElement & { value: string };
    sel.value = arg!;
    sel.dispatchEvent(new Event('change'));
    await when(() => showsHead(arg!));
  } else if (what === 'stage') {
    q(`[data-testid="${arg === 'back' ? 'prev' : 'next'}-stage"]`)!.click();
    const [re, id] = arg === 'back' ? [/attention weights/, 'weights'] : [/context vectors/, 'context'];
    await when(() => re.test(title()) && q(`[data-testid="heatmap-${id}"]`) !== null);
  } else if (what === 'layer') {
    const sel = q('[data-testid="layer-select"]') as HTMLElement & { value: string };
    sel.value = arg!;
    sel.dispatchEvent(new Event('change'));
    await when(
      () =>
        new RegExp(`Layer ${arg}: attention weights`).test(title()) && q('[data-testid="heatmap-weights"]') !== null,
    );
  } else if (what === 'grid') {
    q('[data-testid="view-grid"]')!.click();
    await when(() => q('[data-testid^="heads-grid-"] canvas') !== null);
    // The thumbnails in view paint on the next frames.
    await frame();
    await frame();
  } else if (what === 'heatmap') {
    q('[data-testid="view-heatmap"]')!.click();
    await when(() => q('[data-testid="heatmap-weights"]') !== null);
  } else throw new Error(`unknown move ${what}`);
  return performance.now() - t0;
};

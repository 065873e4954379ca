// The panel's Continue: the current causal-LM trace grows by N generated tokens in the worker (with
// progress, cancel and the watchdog of a run); the session then holds the trace of prompt +
// generated text, on the same stage. The editor's text is not changed. In an untrusted workspace
// only a built-in model continues without asking, as a run does.
import * as vscode from 'vscode';
import type { Session } from '../session';
import { EngineError, type EngineClient } from '../engine/client';
import { readConfig } from '../config';
import { confirmUntrustedLoad } from '../commands/trust';
import { CATALOG, filePathOf } from '../../shared/catalog';
import { checkContinue } from '../../shared/generation';
import type { HandlerContext } from '../../shared/channel';
import type { Request, ResponseMap } from '../../shared/protocol';

export interface ContinueDeps {
  readonly session: Session;
  readonly engine: EngineClient;
  readonly log: Pick<vscode.LogOutputChannel, 'info' | 'warn' | 'error'>;
}

/** The model id a trace continues with: its run's, else (a panel restored after a reload) a built-in's own id. */
function modelIdOf(session: Session): string | undefined {
  const r = session.request;
  if (r) return r.config ? undefined : r.modelId;
  const id = session.trace?.model.id;
  return CATALOG.some((m) => m.id === id) ? id : undefined;
}

export async function continueGeneration(
  deps: ContinueDeps,
  req: Request & { kind: 'continue' },
  ctx: HandlerContext,
): Promise<ResponseMap['continue']> {
  const { session } = deps;
  const trace = session.trace;
  if (!trace) throw new Error('There is no run to continue: select text and run Visualise attention first.');
  if (!trace.model.causalLm)
    throw new Error(
      `${trace.model.name} is not a decoder-only language model (a causal LM), so it cannot continue the text.`,
    );
  const settings = checkContinue(req);
  const modelId = modelIdOf(session);
  if (!modelId)
    throw new Error(
      'This run cannot be continued: it came from an *.attention.json or from before a reload. Run Visualise attention again.',
    );
  const file = filePathOf(modelId);
  if (file && !(await confirmUntrustedLoad(file)))
    throw new EngineError('Not continued: the model files were not loaded.', 'cancelled');
  const cfg = readConfig();
  const started = Date.now();
  const handle = deps.engine.generate(
    {
      modelId,
      text: trace.text,
      prior: trace.tokens,
      ...(trace.generation ? { steps: trace.generation } : {}),
      ...settings,
      topK: cfg.topK,
      memoryBudgetMB: cfg.memoryBudgetMB,
    },
    (fraction, message) => ctx.progress(fraction, message),
  );
  const onAbort = (): void => handle.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const next = await handle.promise;
    const added = (next.generation?.length ?? 0) - (trace.generation?.length ?? 0);
    deps.log.info(
      `continued ${next.model.id} by ${added} tokens to ${next.tokens.length} in ${Date.now() - started} ms (${settings.sampling ? 'sampled' : 'greedy'})`,
    );
    // A run that replaced this trace meanwhile wins: its text is what the user now looks at.
    if (session.trace !== trace) throw new Error('A new run replaced this one while generating; nothing was added.');
    for (const w of next.warnings) deps.log.warn(w);
    // Same model, same stage, head and view; the focused row belonged to the old tokens' picture.
    const { row: _row, ...cursor } = session.cursor;
    session.set(next, session.source, cursor, session.run);
    return { generated: added };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

// The stage bar, following the model's real architecture: tokens → embedding → the model's own
// parts (encoder layers; decoder layers; or an encoder–decoder's encoder, decoder self-attention,
// cross-attention) → its output, named for what it predicts. Under an attention part, its steps
// Q/K/V → scores → weights → context. Built once per trace; a cursor move re-highlights in place.
import { jumpToPhase, type Phase } from '../../shared/navigation';
import type { Cursor } from '../../shared/protocol';
import type { Stage, Trace } from '../../shared/trace';
import { predictionKind } from '../../shared/tensorView';
import { h } from '../dom';
import { currentStage, type StreamState } from '../store';
import { go, type PanelContext, type PartSpec } from './part';

/** The part of the architecture a stage belongs to, as the bar names it. */
export function sectionOf(t: Trace, s: Stage): string {
  if (s.kind === 'tokens') return 'tokens';
  // A chart of measured results (the bottleneck models' accuracy by input length) is its own part, after the output.
  if (s.tensors.some((x) => x.plot === 'curves')) return 'accuracy by length';
  const kind = predictionKind(t);
  if (s.tensors.some((x) => x.name === 'top_id' || x.name === 'probs'))
    return kind === 'masked' ? 'masked-token output' : kind === 'decoder' ? 'output' : 'next-token output';
  const encDec = kind === 'decoder';
  const decoderSide =
    s.step !== undefined || s.tensors.some((x) => Object.values(x.tokenAxes ?? {}).includes('output'));
  if (s.kind === 'embedding') return decoderSide ? 'decoder embedding' : 'embedding';
  // A recurrent decoder's state update makes the query, but it is the decoder, not attention.
  if (s.kind === 'decoder-step') return 'decoder';
  const a = s.attention;
  if ((a && a.queries === 'output' && a.keys === 'input') || s.kind === 'cross-attention') return 'cross-attention';
  if (encDec) {
    if (a) return a.queries === 'output' ? 'decoder self-attention' : 'encoder self-attention';
    return decoderSide ? 'decoder' : 'encoder';
  }
  // One stack: causal self-attention makes it a decoder (GPT, Llama), bidirectional an encoder (BERT).
  return t.stages.some((x) => x.attention?.causal) ? 'decoder layers' : 'encoder layers';
}

const STEPS: readonly (readonly [Phase, string, Stage['kind']])[] = [
  ['Q/K/V', 'Q/K/V', 'qkv'],
  ['scores', 'scores', 'score'],
  ['normalise', 'weights', 'normalise'],
  ['context', 'context', 'context'],
];

/** The first stage of a section: at the cursor's layer and step if there is one, else its first. */
function jumpToSection(t: Trace, c: Cursor, section: string): Cursor {
  const cur = t.stages[c.stage];
  const ok = (s: Stage): boolean => sectionOf(t, s) === section;
  const here = t.stages.findIndex((s) => ok(s) && s.layer === cur?.layer && s.step === cur?.step);
  const i = here >= 0 ? here : t.stages.findIndex(ok);
  return i >= 0 ? { ...c, stage: i } : c;
}

/** What the bar says of a streamed run: the layers still running, or that it stopped and this is part of it. */
export function streamNoteText(s: StreamState): string {
  const done = `${s.layersDone} of ${s.layers} layer${s.layers === 1 ? '' : 's'}`;
  if (s.ended)
    return `Partial run: ${done} arrived; the run ${s.ended.outcome === 'cancelled' ? 'was cancelled' : 'failed'}${s.ended.message ? `: ${s.ended.message}` : '.'}`;
  return s.layersDone < s.layers
    ? `${done} done · layer ${s.layersDone} running…`
    : `${done} done · the output is being made…`;
}

function streamNote(s: StreamState): HTMLElement {
  return h(
    'span',
    { class: s.ended ? 'stream-note ended' : 'stream-note', role: 'status', 'aria-live': 'polite' },
    streamNoteText(s),
  );
}

export function pipelinePart(ctx: PanelContext): PartSpec {
  return {
    name: 'pipeline',
    key: (s) => s.trace && [s.trace, s.stream],
    build: ({ trace, stream }) => {
      const t = trace!;
      const sections = [...new Set(t.stages.map((s) => sectionOf(t, s)))];
      const buttons = new Map<string, HTMLElement>();
      for (const name of sections)
        buttons.set(
          name,
          h('button', { class: 'phase', onclick: () => go(ctx, jumpToSection(t, ctx.store.state.cursor, name)) }, name),
        );
      const steps = STEPS.map(([phase, label, kind]) => ({
        kind,
        el: h(
          'button',
          { class: 'phase step', onclick: () => go(ctx, jumpToPhase(t, ctx.store.state.cursor, phase)) },
          label,
        ),
      }));
      const sub = h('span', { class: 'steps', 'aria-label': 'Attention steps' }, ...steps.map((x) => x.el));
      let shown: Stage | undefined;
      const mark = (b: HTMLElement, on: boolean, cls: string): void => {
        b.className = on ? `${cls} current` : cls;
        if (on) b.setAttribute('aria-current', 'step');
        else b.removeAttribute('aria-current');
      };
      const nav = h(
        'nav',
        { class: 'pipeline', 'aria-label': 'Pipeline stages: arrow keys move between them, Enter goes there' },
        ...buttons.values(),
        sub,
        ...(stream ? [streamNote(stream)] : []),
      );
      // One tab stop (the current part); arrows, Home and End move between the chips, Enter or Space goes.
      const chips = (): HTMLElement[] =>
        [...nav.querySelectorAll<HTMLElement>('button.phase')].filter((b) => !b.closest('[hidden]'));
      nav.addEventListener('keydown', (e) => {
        const list = chips();
        const i = list.indexOf(e.target as HTMLElement);
        if (i < 0) return;
        const j =
          e.key === 'ArrowRight' || e.key === 'ArrowDown'
            ? Math.min(list.length - 1, i + 1)
            : e.key === 'ArrowLeft' || e.key === 'ArrowUp'
              ? Math.max(0, i - 1)
              : e.key === 'Home'
                ? 0
                : e.key === 'End'
                  ? list.length - 1
                  : -1;
        if (j < 0) return;
        e.preventDefault();
        for (const b of list) b.tabIndex = b === list[j] ? 0 : -1;
        list[j]!.focus();
      });
      const roving = (): void => {
        const list = chips();
        const current = list.find((b) => b.classList.contains('current') && !b.classList.contains('step'));
        const focused = list.find((b) => b === document.activeElement);
        for (const b of list) b.tabIndex = b === (focused ?? current ?? list[0]) ? 0 : -1;
      };
      return {
        nodes: [nav],
        patch: (s) => {
          const stage = currentStage(s);
          if (stage === shown) return;
          shown = stage;
          const section = stage && sectionOf(t, stage);
          for (const [name, b] of buttons)
            if (b.classList.contains('current') !== (name === section)) mark(b, name === section, 'phase');
          // The steps of the current attention part, and of the layer the cursor is in (its input, MLP,
          // output: none marked); hidden elsewhere (embeddings, outputs).
          const attends = (x: Stage): boolean => STEPS.some(([, , k]) => k === x.kind);
          const inLayer =
            stage?.layer !== undefined &&
            t.stages.some((x) => x.layer === stage.layer && x.step === stage.step && attends(x));
          sub.hidden = !(stage !== undefined && (attends(stage) || inLayer));
          for (const x of steps) mark(x.el, x.kind === stage?.kind, 'phase step');
          roving();
        },
      };
    },
  };
}

// Model view: every layer × head of each kind of attention the model has (encoder self-, decoder
// self-, cross-attention) as thumbnails, with each layer's head mean, each head's share of
// attention on the first and on special keys, and the attention rollout (full size on click).
// Pooled where the weights are (webview/tensors.ts: here for a small run, the host for a big
// one). Thumbnails are painted when scrolled into view; clicking one opens it full size.
import type { ColourMap } from '../../shared/protocol';
import { ROLLOUT_MAX_TOKENS, type GridSection, type GridThumbs, type Thumb } from '../../shared/derived';
import { tensor, type Trace } from '../../shared/trace';
import { toMatrix } from '../../shared/tensorView';
import { h } from '../dom';
import { paintThumb, THUMB } from '../draw/thumb';
import type { ColourBy, PanelState } from '../store';
import { colourByControl } from './colourBy';
import { matrixFigure, type Figure } from './matrixFigure';
import { go, type Built, type PanelContext } from './part';
import { viewExports } from '../snapshot';

interface Opener {
  readonly el: HTMLElement;
  readonly stage: number;
  readonly head: number;
}

type Scale = 'own' | 'shared';

/** What one thumbnail row is, per kind of attention. */
const ROW_MEANING: Record<GridSection['kind'], string> = {
  self: 'a query’s row is one token attending over the keys.',
  'encoder-self': 'a query’s row is one input token attending over the input tokens.',
  'decoder-self':
    'a row is one output step attending over the decoder positions up to it (the later ones are masked; the first holds the start token).',
  cross: 'a row is one output step attending over the input tokens.',
};
/** Kept while the panel lives: moving between layers and back keeps the user's choice. */
let scale: Scale = 'own';

const pct = (v: number): string => `${(v * 100).toFixed(0)}%`;

/** The largest pooled value of any head thumbnail in a section (weights or norms): the shared scale's top. */
function sectionMax(sec: GridSection, by: ColourBy): number {
  let m = 0;
  for (const r of sec.rows)
    for (const t of by === 'value_norms' && r.norms ? [...r.norms.heads, r.norms.mean] : [...r.heads, r.mean])
      for (const v of t.data) if (v > m) m = v;
  return m || 1;
}

export function buildGrid(
  ctx: PanelContext,
  trace: Trace,
  thumbs: GridThumbs,
  colourMap: ColourMap,
  colourBy: ColourBy = 'weights',
): Built {
  // “Colour by” applies where every row has the norms (every Transformer block; no RNN).
  const hasNorms = thumbs.sections.length > 0 && thumbs.sections.every((sec) => sec.rows.every((r) => r.norms));
  const by: ColourBy = hasNorms ? colourBy : 'weights';
  const what = by === 'value_norms' ? 'value-weighted norm ‖αvW_O‖' : 'weight';
  if (thumbs.sections.length === 0)
    return { nodes: [h('p', { class: 'muted' }, 'This model has no multi-head attention layers to show in a grid.')] };
  const painters = new Map<HTMLCanvasElement, () => void>();
  /** Canvases painted so far (scrolled into view): a scale change repaints these, the others paint when seen. */
  const painted = new Set<HTMLCanvasElement>();
  const observer =
    typeof IntersectionObserver === 'undefined'
      ? undefined
      : new IntersectionObserver((entries) => {
          for (const e of entries) {
            if (!e.isIntersecting) continue;
            painters.get(e.target as HTMLCanvasElement)?.();
            observer?.unobserve(e.target);
          }
        });
  const openers: Opener[] = [];
  const stageIndex = new Map(trace.stages.map((s, i) => [s.id, i]));
  const thumb = (
    label: string,
    t: Thumb,
    paintMax: () => number | undefined,
    open?: { stage: number; head: number } | (() => void),
    caption = label,
    /** Shown under the thumbnail (the head's share on the first key). */
    note?: string,
  ): HTMLElement => {
    const canvas = h('canvas', { class: 'thumb', width: THUMB, height: THUMB });
    const onclick =
      typeof open === 'function'
        ? open
        : open
          ? () => go(ctx, { ...ctx.store.state.cursor, stage: open.stage, head: open.head, view: 'heatmap' })
          : undefined;
    const cell = h(
      open ? 'button' : 'div',
      { class: 'grid-cell', title: label, 'aria-label': label, onclick, 'data-label': label },
      canvas,
      h('span', { class: 'grid-label' }, caption),
      ...(note ? [h('span', { class: 'grid-sink', 'aria-hidden': 'true' }, note)] : []),
    );
    if (open && typeof open !== 'function') openers.push({ el: cell, ...open });
    painters.set(canvas, () => {
      painted.add(canvas);
      paintThumb(canvas, t.data, t.rows, t.cols, colourMap, paintMax());
    });
    observer?.observe(canvas);
    return cell;
  };
  const encoderDecoder = thumbs.sections.some((sec) => sec.kind === 'cross');
  const sections = thumbs.sections.map((sec) => {
    const heads = Math.max(...sec.rows.map((r) => r.heads.length));
    const shared = sectionMax(sec, by);
    const max = (): number | undefined => (scale === 'shared' ? shared : undefined);
    const table = h('div', {
      class: 'grid',
      role: 'grid',
      'aria-label': `${sec.title}: layers × heads; arrow keys move between thumbnails, Enter opens one`,
      'data-testid': `heads-grid-${sec.kind}`,
      'data-columns': heads + 1,
    });
    // Through the CSSOM: the panel's CSP forbids inline style attributes.
    // Columns shrink (to 28 px) so the grid fits the panel's width; the thumbnails scale with them.
    table.style.gridTemplateColumns = `auto repeat(${heads + 1}, minmax(28px, ${THUMB + 8}px))`;
    table.append(
      h('div', {}),
      ...Array.from({ length: heads }, (_, i) => h('div', { class: 'grid-head' }, `head ${i}`)),
      h('div', { class: 'grid-head' }, 'mean'),
    );
    for (const r of sec.rows) {
      const stage = stageIndex.get(r.stage) ?? 0;
      table.append(h('div', { class: 'grid-row-label' }, r.layer !== undefined ? `layer ${r.layer}` : r.title));
      for (let hd = 0; hd < heads; hd++) {
        const t = by === 'value_norms' ? r.norms?.heads[hd] : r.heads[hd];
        if (!t) {
          table.append(h('div', {}));
          continue;
        }
        const kv = r.kvHeadOf ? ` (K/V head ${r.kvHeadOf[hd]})` : '';
        const sink = `first key ${pct(r.first[hd]!)}${r.special ? `, special keys ${pct(r.special[hd]!)}` : ''}`;
        table.append(
          thumb(
            `${sec.title}, layer ${r.layer ?? '?'} head ${hd}${kv}: mean weight on the ${sink}`,
            t,
            max,
            { stage, head: hd },
            `head ${hd}`,
            `${pct(r.first[hd]!)} on 1st`,
          ),
        );
      }
      table.append(
        thumb(
          `${sec.title}, layer ${r.layer ?? '?'} mean of heads${by === 'value_norms' ? ', value-weighted norm ‖αvW_O‖' : ''}`,
          by === 'value_norms' && r.norms ? r.norms.mean : r.mean,
          max,
          { stage, head: -1 },
          'mean',
        ),
      );
    }
    const { pool, size } = sec;
    const pooled =
      pool.rows > 1 || pool.cols > 1
        ? ` Pooled: each pixel is the mean of ${pool.rows} × ${pool.cols} ${by === 'value_norms' ? 'norms' : 'weights'} of the ${size.rows} × ${size.cols} matrix.`
        : '';
    return h(
      'section',
      { class: 'grid-section' },
      h('h3', {}, `${sec.title[0]!.toUpperCase()}${sec.title.slice(1)}`),
      h(
        'p',
        { class: 'muted', 'data-testid': `grid-note-${sec.kind}` },
        `${sec.rows.length} layer${sec.rows.length === 1 ? '' : 's'} × ${heads} heads; ${ROW_MEANING[sec.kind]} “% on 1st” is the mean weight on the first key (an attention sink when it is large).${pooled}`,
      ),
      table,
    );
  });
  const scaleNote = h('span', { class: 'muted', 'data-testid': 'grid-scale-note' });
  const scaleButtons = (['own', 'shared'] as const).map((s) =>
    h(
      'vscode-button',
      {
        secondary: true,
        'data-testid': `grid-scale-${s}`,
        onclick: () => {
          scale = s;
          setScale();
        },
      },
      s === 'own' ? 'Each to its own max' : 'One scale per kind',
    ),
  );
  const setScale = (): void => {
    scaleNote.textContent =
      scale === 'own'
        ? `Colour: ${what}, each thumbnail from 0 to its own maximum, so weak heads stay visible (heads do not compare by colour).`
        : `Colour: ${what}, one scale per kind of attention, from 0 to its largest pooled ${by === 'value_norms' ? 'norm' : 'weight'}, so heads compare by colour.`;
    scaleButtons.forEach((b, i) => b.setAttribute('aria-pressed', String((i === 0) === (scale === 'own'))));
    for (const [canvas, paint] of painters) if (painted.has(canvas)) paint();
  };
  setScale();
  const figures: Figure[] = [];
  const rolloutBox = h('div', { class: 'grid-extra' });
  const full = h('div', { class: 'matrices', 'data-testid': 'rollout-full' });
  const n = thumbs.rollout?.rows ?? 0;
  if (thumbs.rollout) {
    const r = thumbs.rollout;
    const showFull = (): void => {
      if (full.childElementCount > 0) {
        full.replaceChildren();
        figures.length = 0;
        return;
      }
      const t = tensor('rollout', [r.rows, r.cols], ['query', 'key'], r.data, {
        tokenAxes: { query: 'input', key: 'input' },
      });
      const f = matrixFigure(ctx, {
        matrix: toMatrix(trace, t, 0),
        tensor: t,
        head: 0,
        colourMap,
        caption: 'attention rollout: the share of each token’s final state that traces back to each input token',
        testid: 'rollout',
      });
      figures.push(f);
      full.append(f.el);
    };
    rolloutBox.append(
      thumb(
        `attention rollout over ${n} tokens: open it full size with labels`,
        r,
        () => undefined,
        showFull,
        'rollout (click to open)',
      ),
    );
  }
  // The thumbnail under the keyboard (or the mouse) announced, as the heatmap's cell is.
  const readout = h('div', { class: 'readout', 'data-testid': 'grid-readout', 'aria-live': 'polite' }, '\u00a0');
  const view = h(
    'div',
    { class: 'grid-view', 'data-export': 'grid' },
    ...(hasNorms ? [colourByControl(ctx, by)] : []),
    h(
      'div',
      { class: 'grid-scale', role: 'group', 'aria-label': 'thumbnail colour scale' },
      ...scaleButtons,
      scaleNote,
    ),
    readout,
    ...sections,
    h('h3', {}, 'Attention rollout'),
    h(
      'p',
      { class: 'muted' },
      thumbs.rollout
        ? `Rollout (Abnar & Zuidema, 2020) multiplies the ${encoderDecoder ? 'encoder’s ' : ''}self-attention layers’ head-averaged weights, each mixed half-and-half with the identity for the residual connection: how much each token’s final state draws on each input token.${encoderDecoder ? ' It follows one sequence through its own layers, so the decoder’s masked self-attention and the cross-attention are not in it.' : ''}`
        : `Rollout is left out beyond ${ROLLOUT_MAX_TOKENS} tokens (it multiplies one n × n matrix per layer), or when the model has no self-attention over its input.`,
    ),
    rolloutBox,
    full,
  );
  for (const table of view.querySelectorAll<HTMLElement>('.grid')) gridKeys(table, heads(table), readout);
  viewExports.set(view, {
    // Every thumbnail painted (those never scrolled into view too), for the PNG.
    prepare: () => {
      for (const [canvas, paint] of painters) if (!painted.has(canvas)) paint();
    },
    csv: () => sinkCsv(thumbs),
    csvName: 'grid-sink-shares',
  });
  let shown: { stage: number; head: number } | undefined;
  return {
    nodes: [view],
    patch: (s: PanelState) => {
      if (shown?.stage === s.cursor.stage && shown.head === s.cursor.head) return;
      shown = { stage: s.cursor.stage, head: s.cursor.head };
      for (const o of openers) o.el.classList.toggle('current', o.stage === s.cursor.stage && o.head === s.cursor.head);
    },
    resize: () => figures.forEach((f) => f.resize()),
    dispose: () => {
      observer?.disconnect();
      figures.forEach((f) => f.dispose?.());
    },
  };
}

const heads = (table: HTMLElement): number => Number(table.dataset.columns) || 1;

/**
 * Arrow keys between a section's thumbnails (a roving tab stop: Tab enters the grid once, at the
 * thumbnail last focused), Home/End along a row; the focused or hovered one is read out.
 */
function gridKeys(table: HTMLElement, columns: number, readout: HTMLElement): void {
  const cells = [...table.querySelectorAll<HTMLElement>('button.grid-cell')];
  if (cells.length === 0) return;
  // Each button's place in the rows × columns of the section (empty places are divs, skipped).
  const places = new Map<HTMLElement, { r: number; c: number }>();
  const at = new Map<string, HTMLElement>();
  let i = 0;
  let r = -1;
  for (const el of table.children) {
    const c = i % (columns + 1);
    if (c === 0) r++;
    if (el.tagName === 'BUTTON' && el.classList.contains('grid-cell')) {
      places.set(el as HTMLElement, { r, c });
      at.set(`${r},${c}`, el as HTMLElement);
    }
    i++;
  }
  cells.forEach((c, k) => c.setAttribute('tabindex', k === 0 ? '0' : '-1'));
  const say = (el: HTMLElement): void => {
    readout.textContent = el.dataset.label ?? '';
  };
  const moveTo = (el: HTMLElement | undefined): void => {
    if (!el) return;
    for (const c of cells) c.setAttribute('tabindex', c === el ? '0' : '-1');
    el.focus();
  };
  for (const el of cells) {
    el.addEventListener('focus', () => say(el));
    el.addEventListener('mouseenter', () => say(el));
    el.addEventListener('keydown', (e) => {
      const p = places.get(el)!;
      const find = (dr: number, dc: number): HTMLElement | undefined => {
        for (let rr = p.r + dr, cc = p.c + dc; rr >= 0 && rr <= r && cc >= 1 && cc <= columns; rr += dr, cc += dc) {
          const t = at.get(`${rr},${cc}`);
          if (t) return t;
        }
        return undefined;
      };
      const rowCells = cells.filter((c) => places.get(c)!.r === p.r);
      const target =
        e.key === 'ArrowRight'
          ? find(0, 1)
          : e.key === 'ArrowLeft'
            ? find(0, -1)
            : e.key === 'ArrowDown'
              ? find(1, 0)
              : e.key === 'ArrowUp'
                ? find(-1, 0)
                : e.key === 'Home'
                  ? rowCells[0]
                  : e.key === 'End'
                    ? rowCells[rowCells.length - 1]
                    : undefined;
      if (!target) return;
      e.preventDefault();
      moveTo(target);
    });
  }
}

/** The grid's numbers behind its notes: per section, layer and head, the mean weight on the first key and on special keys. */
export function sinkCsv(thumbs: GridThumbs): string {
  const special = thumbs.sections.some((sec) => sec.rows.some((r) => r.special));
  const lines = [`attention,layer,head,first_key_share${special ? ',special_keys_share' : ''}`];
  for (const sec of thumbs.sections)
    for (const r of sec.rows)
      r.first.forEach((f, hd) =>
        lines.push(
          [
            `"${sec.title.replace(/"/g, '""')}"`,
            r.layer ?? '',
            hd,
            String(Number(f.toPrecision(9))),
            ...(special ? [r.special ? String(Number(r.special[hd]!.toPrecision(9))) : ''] : []),
          ].join(','),
        ),
      );
  return lines.join('\n') + '\n';
}

// What the panel's model info shows (the "Show model info" command and the header's button): the
// model's family, size and shape, vocabulary, context, positional scheme, files and licence/credit,
// as labelled rows. Pure: no DOM, so the panel and the tests read the same rows.
import type { Trace } from './trace';

export interface ModelInfoRow {
  readonly label: string;
  readonly value: string;
}

/** 2,626,168 bytes → '2.50 MB'; under 1 KB in bytes. */
export function byteSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(2)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

const count = (n: number): string => n.toLocaleString('en-US');

export function modelInfoRows(trace: Trace): ModelInfoRow[] {
  const m = trace.model;
  const d = m.details;
  const rows: [string, string | undefined][] = [
    ['id', m.id],
    ['family', m.family],
    ['parameters', m.parameters !== undefined ? count(m.parameters) : undefined],
    ['layers', String(m.layers)],
    ['heads', String(m.heads)],
    [
      'key/value heads',
      m.kvHeads !== undefined && m.kvHeads !== m.heads
        ? `${m.kvHeads} (grouped-query: ${m.heads / m.kvHeads} query heads share each)`
        : m.heads > 0
          ? `${m.kvHeads ?? m.heads} (one per query head)`
          : undefined,
    ],
    ['width d_model', String(m.dModel)],
    ['vocabulary', d?.vocabulary !== undefined ? `${count(d.vocabulary)} tokens` : undefined],
    ['context', d?.context !== undefined ? `${count(d.context)} positions` : undefined],
    ['positional scheme', d?.positions],
    ['licence', m.licence],
    ['credit', d?.credit],
    ['backend', trace.backend],
  ];
  return rows.flatMap(([label, value]) => (value === undefined ? [] : [{ label, value }]));
}

/** The files of the model's folder with their sizes, largest first is not assumed: in name order. */
export function modelFiles(trace: Trace): ModelInfoRow[] {
  return (trace.model.details?.files ?? []).map((f) => ({ label: f.name, value: byteSize(f.bytes) }));
}

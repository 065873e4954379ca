// The tokens stage: one chip per token with its id; whitespace made visible, text never HTML.
import type { Trace } from '../../shared/trace';
import { tokenLabel } from '../../shared/tensorView';
import { h } from '../dom';

export function tokenChips(t: Trace): HTMLElement {
  return h(
    'ol',
    { class: 'tokens', 'data-testid': 'tokens' },
    ...t.tokens.map((tok, i) =>
      h(
        'li',
        {
          class: tok.generated
            ? 'token generated'
            : tok.special
              ? 'token special'
              : tok.unknown
                ? 'token unknown'
                : 'token',
          title: tok.generated
            ? `#${i} id ${tok.id} generated (not in the editor's text)`
            : `#${i} id ${tok.id} chars ${tok.start}–${tok.end}`,
        },
        h('span', { class: 'tok-text' }, tokenLabel(tok)),
        h('span', { class: 'tok-id' }, String(tok.id)),
      ),
    ),
  );
}

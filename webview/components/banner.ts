// A busy note ("Running…", "Saved …") or an error from the host or a failed export.
import { h } from '../dom';
import type { PartSpec } from './part';

export const bannerPart: PartSpec = {
  name: 'banner',
  key: (s) => s.banner && [s.banner],
  build: ({ banner: b }) => ({
    nodes: [
      h('div', { id: 'banner', class: `banner ${b!.kind}`, role: b!.kind === 'error' ? 'alert' : 'status' }, b!.text),
    ],
  }),
};

// The whole panel: its parts in reading order, mounted once into the page's #app. Every store
// change updates each part once; each rebuilds only if what it is drawn from changed.
import { bannerPart } from './banner';
import { controlsPart } from './controls';
import { emptyPart, headerPart } from './header';
import { generationPart } from './generation';
import { Part, type PanelContext } from './part';
import { pipelinePart } from './pipeline';
import { stageBodyPart } from './stageBody';
import { stageInfoPart } from './stageInfo';
import type { PanelState } from '../store';

export interface MountedPanel {
  update(s: PanelState): void;
  /** Re-lays out the canvases for the panel's new width; the DOM tree stays. */
  resize(): void;
  dispose(): void;
}

export function mountPanel(root: HTMLElement, ctx: PanelContext): MountedPanel {
  const parts = [
    bannerPart,
    emptyPart,
    headerPart(ctx),
    pipelinePart(ctx),
    controlsPart(ctx),
    generationPart(ctx),
    stageInfoPart,
    stageBodyPart(ctx),
  ].map((sp) => new Part(sp, ctx));
  root.replaceChildren(...parts.map((p) => p.el));
  const update = (s: PanelState): void => parts.forEach((p) => p.update(s));
  update(ctx.store.state);
  const unsubscribe = ctx.store.subscribe((next) => update(next));
  return {
    update,
    resize: () => parts.forEach((p) => p.resize()),
    dispose: () => {
      unsubscribe();
      parts.forEach((p) => p.dispose());
    },
  };
}

// Stage commands: move the cursor from the palette or keybindings; the panel and hover follow.
import * as vscode from 'vscode';
import type { Session } from '../session';
import type { Trace } from '../../shared/trace';
import type { Cursor } from '../../shared/protocol';
import { moveHead, moveLayer, moveStage, moveStep, stepsOf } from '../../shared/navigation';
import { moveOutputStep } from '../../shared/decoderSteps';

type Move = (trace: Trace, c: Cursor, delta: number) => Cursor;

/** A stage per decoder step (RNN seq2seq): move by stage; a Transformer encoder–decoder: move the output step (row). */
function stepOrRow(trace: Trace, c: Cursor, delta: number): Cursor {
  return stepsOf(trace).length > 0 ? moveStep(trace, c, delta) : moveOutputStep(trace, c, delta);
}

const MOVES: Record<string, [Move, number]> = {
  'attentionLens.nextStage': [moveStage, 1],
  'attentionLens.previousStage': [moveStage, -1],
  'attentionLens.nextLayer': [moveLayer, 1],
  'attentionLens.previousLayer': [moveLayer, -1],
  'attentionLens.nextHead': [moveHead, 1],
  'attentionLens.previousHead': [moveHead, -1],
  'attentionLens.nextStep': [stepOrRow, 1],
  'attentionLens.previousStep': [stepOrRow, -1],
};

export function registerStepCommands(session: Session): vscode.Disposable[] {
  return Object.entries(MOVES).map(([id, [move, delta]]) =>
    vscode.commands.registerCommand(id, () => {
      const trace = session.trace;
      if (!trace) {
        void vscode.window.showInformationMessage('Attention Lens: run "Visualise attention" first.');
        return;
      }
      session.moveCursor(move(trace, session.cursor, delta));
    }),
  );
}

import { expect } from 'chai';
import { progressOn } from '../../src/remb/progress.js';

/** A stand-in for process.stderr that records what is written. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, columns: 100, write: (chunk: string) => (written.push(String(chunk)), true), cursorTo: () => true, clearLine: () => true, moveCursor: () => true, on: () => stream, removeListener: () => stream } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('reimbursement feed: progress on stderr', () => {
  it('when stderr is not a terminal, then a plain line is written at each tenth of the way, never twice for the same tenth', () => {
    const { stream, written } = fakeStream(false);
    const progress = progressOn(stream, 200);
    for (const done of [10, 19, 20, 25, 40, 100, 150, 200]) {
      progress.update(done);
    }
    progress.stop();
    expect(written.map((w) => w.replace(/, [\d.]+ s\)/, ')'))).to.deep.equal([
      'feed-remb: 20/200 patients (10%)\n',
      'feed-remb: 40/200 patients (20%)\n',
      'feed-remb: 100/200 patients (50%)\n',
      'feed-remb: 150/200 patients (75%)\n',
      'feed-remb: 200/200 patients (100%)\n',
    ]);
  });

  it('when there is nothing to feed, then the end is still reported once', () => {
    const { stream, written } = fakeStream(false);
    const progress = progressOn(stream, 0);
    progress.update(0);
    progress.update(0);
    expect(written).to.have.length(1);
    expect(written[0]).to.match(/^feed-remb: 0\/0 patients \(100%/);
  });

  it('when stderr is a terminal, then a bar is drawn and ends at 100%', () => {
    const { stream, written } = fakeStream(true);
    const progress = progressOn(stream, 4);
    progress.update(4);
    progress.stop();
    expect(written.join('')).to.match(/feed-remb \[.*\] 100% \| 4\/4 patients/);
  });
});

/**
 * Progress of the feed on stderr: a bar (cli-progress) on a terminal; elsewhere (a log file, CI,
 * a pipe) a line at every tenth of the way, which stays readable where a redrawn bar does not.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** A progress display over `total` patients, on `stream`. */
export function progressOn(stream: NodeJS.WriteStream, total: number): Progress {
  return stream.isTTY ? barProgress(stream, total) : lineProgress(stream, total);
}

function barProgress(stream: NodeJS.WriteStream, total: number): Progress {
  const bar = new cliProgress.SingleBar(
    { stream, format: 'feed-remb [{bar}] {percentage}% | {value}/{total} patients | ETA {eta_formatted}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic
  );
  bar.start(total, 0);
  return {
    update: (done) => bar.update(done),
    stop: () => bar.stop(),
  };
}

function lineProgress(stream: NodeJS.WriteStream, total: number): Progress {
  let lastTenth = 0;
  const started = Date.now();
  return {
    update(done) {
      const tenth = total === 0 ? 10 : Math.floor((done * 10) / total);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        const percent = total === 0 ? 100 : Math.round((done * 100) / total);
        stream.write(`feed-remb: ${done}/${total} patients (${percent}%, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      }
    },
    stop() {},
  };
}

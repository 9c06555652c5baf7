// Progress on a terminal as a live bar (cli-progress); plain lines when output goes to a file or CI.
import cliProgress from "cli-progress";

export interface Progress {
  update(step: number, info: { epoch: number; loss: number; imgPerS: number; lr: number }): void;
  log(line: string): void;
  /** The total changed (a time budget fixed it). */
  setTotal(total: number): void;
  stop(): void;
}

export function makeProgress(total: number, opts: { enabled: boolean; plainEvery: number }): Progress {
  if (!opts.enabled) {
    return { update() {}, log() {}, setTotal() {}, stop() {} };
  }
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: "train |{bar}| {value}/{total} steps | epoch {epoch} | loss {loss} | {ips} img/s | eta {eta_formatted}",
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { epoch: 0, loss: "-", ips: "-" });
    return {
      update(step, i) {
        bar.update(step, { epoch: i.epoch, loss: i.loss.toFixed(4), ips: i.imgPerS.toFixed(0) });
      },
      setTotal(t) {
        total = t;
        bar.setTotal(t);
      },
      log(line) {
        bar.stop();
        process.stderr.write(line + "\n");
        bar.start(total, bar.getProgress() * total, {});
      },
      stop() {
        bar.stop();
      },
    };
  }
  let last = -Infinity;
  return {
    update(step, i) {
      if (step - last < opts.plainEvery && step !== total) return;
      last = step;
      process.stderr.write(`step ${step}/${total} epoch ${i.epoch} loss ${i.loss.toFixed(4)} lr ${i.lr.toExponential(2)} ${i.imgPerS.toFixed(0)} img/s\n`);
    },
    log(line) {
      process.stderr.write(line + "\n");
    },
    setTotal(t) {
      total = t;
    },
    stop() {},
  };
}

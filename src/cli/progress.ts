/**
 * The live progress line of the long commands (import, export) on stderr:
 * redrawn in place on a terminal (every 200 ms at most), one line every 5 s
 * otherwise (a log file or CI keeps a readable trace), nothing with --quiet.
 * stdout keeps only the final summary, so it can be captured.
 */

export const count = (n: number): string => n.toLocaleString('en');

/** Seconds as m:ss or h:mm:ss; "--:--" when unknown. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s % 60).padStart(2, '0')}`;
}

export interface ProgressWriter {
  /** Draws the line if the last one is old enough (`line` is only computed then). */
  draw(line: () => string): void;
  /** Draws the last line and ends it. */
  done(line: () => string): void;
  /** Ends the line where it is (before an error message). */
  stop(): void;
}

export function progressWriter(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressWriter {
  const interactive = stream.isTTY === true && !quiet;
  const interval = interactive ? 200 : 5000;
  let last = Date.now();
  let drawn = false;
  const write = (text: string) => {
    if (quiet) return;
    stream.write(interactive ? `\r\x1b[2K${text}` : `${text}\n`);
    drawn = true;
  };
  return {
    draw(line) {
      const now = Date.now();
      if (quiet || now - last < interval) return;
      last = now;
      write(line());
    },
    done(line) {
      write(line());
      if (interactive) stream.write('\n');
    },
    stop() {
      if (interactive && drawn) stream.write('\n');
    },
  };
}

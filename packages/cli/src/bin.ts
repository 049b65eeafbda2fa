#!/usr/bin/env node
/**
 * The `tfpass` process. The command runs in a worker thread so that this thread stays idle and
 * can always act on Ctrl-C / SIGTERM, however long the worker's synchronous work (a pass over a
 * big graph, encoding, a wasm kernel) runs. On a signal the worker is terminated (V8 interrupts
 * JS and wasm loops), every temp file it announced is removed, and the process exits 130/143.
 * An output is only ever created by renaming a complete temp file, so an existing output is
 * either untouched or fully replaced. TFPASS_INLINE=1 runs the command on this thread instead.
 */
import { unlinkSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

const argv = process.argv.slice(2);
const tty = { stdout: isatty(1), stderr: isatty(2) };

// Usage and listings write no files and end quickly: they run here, and Ctrl-C's default
// action ends them, without the worker's start-up cost.
const quick = !argv.length || ['--help', '-h', '--version', '-v', 'version', 'help', 'passes'].includes(argv[0]!) || argv.includes('--help') || argv.includes('-h');
if (quick || process.env.TFPASS_INLINE === '1') {
  const { runCommand } = await import('./worker.js');
  process.exitCode = await runCommand(argv, tty);
} else {
  const { port1: temps, port2 } = new MessageChannel();
  temps.unref();
  let stopping = false;
  let worker: Worker | undefined;
  const removeTemps = (): void => {
    for (let m = receiveMessageOnPort(temps); m; m = receiveMessageOnPort(temps)) {
      try {
        unlinkSync(m.message as string);
      } catch {
        /* renamed into place already, or never created */
      }
    }
  };
  // Installed before the worker exists, so there is no moment a signal finds no handler.
  for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      const finish = (): never => {
        removeTemps();
        try {
          writeSync(2, `\ntfpass: interrupted (${sig}); unfinished outputs removed, existing ones left as they were\n`);
        } catch {
          /* stderr is gone too */
        }
        process.exit(status);
      };
      // A worker blocked in a long system call stops only when the call returns: do not wait
      // for it beyond a second (process.exit ends the thread too).
      setTimeout(finish, 1000).unref();
      if (worker) void worker.terminate().then(finish, finish);
      else finish();
    });
  }
  // A reader that went away (`tfpass … | head`) is not an error of ours.
  for (const s of [process.stdout, process.stderr]) s.on('error', (e: NodeJS.ErrnoException) => e.code === 'EPIPE' ? process.exit(0) : undefined);

  worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { argv, tty, temps: port2 },
    transferList: [port2],
    // The worker writes its own output straight to fds 1 and 2; anything it prints through
    // console (e.g. a library's warning) is passed through here.
    stdout: false,
    stderr: false,
  });
  worker.on('exit', (code) => {
    if (!stopping && process.exitCode === undefined) process.exitCode = code;
  });
  worker.on('error', (e) => {
    if (stopping) return;
    writeSync(2, `tfpass: error[E_INTERNAL]: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 70;
  });
}

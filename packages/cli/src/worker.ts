/** The command itself, run in the worker thread started by bin.ts (or inline with TFPASS_INLINE=1). */
import { isMainThread, workerData, type MessagePort } from 'node:worker_threads';
import { setTempFileListener } from '@tfpass/core/files';
import { main } from './main.js';
import { fdIo } from './ui.js';

export async function runCommand(argv: readonly string[], tty: { stdout: boolean; stderr: boolean }): Promise<number> {
  return main(argv, fdIo(tty));
}

if (!isMainThread && workerData?.temps) {
  const { argv, tty, temps } = workerData as { argv: string[]; tty: { stdout: boolean; stderr: boolean }; temps: MessagePort };
  // Tell the main thread about every temp file before it exists, so it can remove it on Ctrl-C.
  setTempFileListener((path) => temps.postMessage(path));
  const status = await runCommand(argv, tty);
  process.exit(status);
}

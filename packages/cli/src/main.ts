import { UsageError, nearest } from '@tfpass/core/errors';
import { formatUsage, parseArgs } from './args.js';
import { commands } from './commands/index.js';
import { Ctx, isBrokenPipe, processIo, reportError, type Io } from './ui.js';
import { cliVersion } from './version.js';

function topUsage(): string {
  const w = Math.max(...[...commands.keys()].map((k) => k.length));
  return [
    'usage: tfpass <command> [flags]',
    '',
    'commands:',
    ...[...commands].map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`),
    '',
    "every command takes --json, --quiet, --verbose; 'tfpass <command> --help' for its flags, 'tfpass help PASS' for a pass",
  ].join('\n');
}

/** Run the CLI; returns the exit status instead of exiting (tests call this directly). */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const json = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  try {
    const [name, ...rest] = argv;
    if (!name || name === '--help' || name === '-h') {
      io.out(topUsage() + '\n');
      return name ? 0 : 2;
    }
    if (name === '--version' || name === '-v' || name === 'version') {
      io.out(`${cliVersion()}\n`);
      return 0;
    }
    const entry = commands.get(name);
    if (!entry) {
      const near = nearest(name, commands.keys());
      throw new UsageError(`unknown command '${name}'${near.length ? `; did you mean '${near[0]}'?` : ''} (tfpass --help lists them)`);
    }
    const mod = await entry.load();
    const args = parseArgs(rest, mod.spec);
    if (args.flags.help) {
      io.out(formatUsage(mod.spec) + '\n');
      return 0;
    }
    if (args.given.has('max_tensor_bytes') || args.given.has('pass_timeout')) {
      // Process-wide limits of core (loaded only when asked: quick commands stay fast).
      const core = await import('@tfpass/core');
      if (args.given.has('max_tensor_bytes')) {
        const v = core.parseByteSize(String(args.flags.max_tensor_bytes));
        if (v === undefined) throw new UsageError(`--max_tensor_bytes: '${String(args.flags.max_tensor_bytes)}' is not a byte size (e.g. 4294967296, 512M, 8G)`);
        core.setMaxTensorBytes(v);
      }
      if (args.given.has('pass_timeout')) core.setPassTimeout(args.flags.pass_timeout as number);
    }
    const code = await mod.run(new Ctx(args, io, name, commands));
    return code ?? 0;
  } catch (e) {
    // The reader of stdout went away (`| head`): what it wanted was printed; stop quietly.
    if (isBrokenPipe(e)) return 0;
    try {
      return reportError(e, io, { json, verbose });
    } catch (e2) {
      if (isBrokenPipe(e2)) return 0;
      throw e2;
    }
  }
}

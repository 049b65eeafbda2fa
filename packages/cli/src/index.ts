export { main } from './main.js';
export { commands, registerCommand, type CommandEntry, type CommandModule } from './commands/index.js';
export { parseArgs, formatUsage, splitList, type CommandSpec, type FlagSpec, type ParsedArgs } from './args.js';
export { Ctx, processIo, reportError, type Io } from './ui.js';
export { parseInputSpecs, type InputSpec } from './inputs.js';
export { resolvePluginName, loadHost, type Host } from './plugins.js';
export { FIRST_PARTY } from './catalogue.js';

import { parseArgs } from 'node:util';
import { isAbsolute } from 'node:path';
import { builtinRegistry } from './builtin-registry.js';
import { componentsCommand } from './commands/components.js';
import { doctorCommand } from './commands/doctor.js';
import { graphCommand } from './commands/graph.js';
import { runCommand } from './commands/run.js';
import { validateCommand } from './commands/validate.js';
import { DEFAULT_CONFIG, HELP } from './help.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../util/log.js';
import { parseDuration } from '../util/duration.js';
import { PACKAGE_VERSION } from '../util/package-root.js';
import { DEFAULT_WRITABLE_DIRS, WritePolicy } from '../security/write-policy.js';

class UsageError extends Error {}

const GLOBAL = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const COMMAND_OPTIONS = {
  run: {
    config: { type: 'string', short: 'c' },
    'drain-timeout': { type: 'string' },
    'http-listen': { type: 'string' },
    'watch-interval': { type: 'string' },
    'allow-write': { type: 'string', multiple: true },
  },
  validate: { quiet: { type: 'boolean', short: 'q' }, 'allow-write': { type: 'string', multiple: true } },
  graph: { format: { type: 'string', short: 'f' } },
  components: { json: { type: 'boolean' } },
  doctor: { fix: { type: 'boolean' }, json: { type: 'boolean' } },
} as const;

type Command = keyof typeof COMMAND_OPTIONS;

export async function main(argv: string[]): Promise<number> {
  const command = findCommand(argv);
  if (!command) {
    if (argv.includes('--version')) return print(`probeflow ${PACKAGE_VERSION}`);
    print(HELP.main!);
    return argv.some((a) => a === '-h' || a === '--help') ? 0 : 2;
  }
  if (!(command in COMMAND_OPTIONS)) throw new UsageError(`unknown command "${command}"; commands: ${Object.keys(COMMAND_OPTIONS).join(', ')}`);
  const cmd = command as Command;
  let parsed;
  try {
    parsed = parseArgs({ args: argv.filter((a, i) => i !== argv.indexOf(command)), options: { ...GLOBAL, ...COMMAND_OPTIONS[cmd] }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  const { values, positionals } = parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  if (values.help) return print(HELP[cmd]!);

  const level = (values['log-level'] ?? process.env.PROBEFLOW_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const format = values['log-format'] as 'json' | 'text' | undefined;
  if (format && format !== 'json' && format !== 'text') throw new UsageError('--log-format must be json or text');
  const log = createLogger({ level, ...(format ? { format } : {}) });
  const registry = builtinRegistry();

  switch (cmd) {
    case 'run': {
      if (positionals.length) throw new UsageError(`run takes no file argument; use -c ${positionals[0]}`);
      const duration = (flag: string, fallback: string) => {
        try {
          return parseDuration((values[flag] as string | undefined) ?? fallback);
        } catch (e) {
          throw new UsageError(`--${flag}: ${(e as Error).message}`);
        }
      };
      const httpListen = (values['http-listen'] as string | undefined) ?? process.env.PROBEFLOW_HTTP_LISTEN ?? '127.0.0.1:9465';
      const config = (values.config as string | undefined) ?? process.env.PROBEFLOW_CONFIG ?? DEFAULT_CONFIG;
      return runCommand(
        {
          config,
          drainTimeoutMs: duration('drain-timeout', '10s'),
          httpListen: httpListen === 'off' ? '' : httpListen,
          watchIntervalMs: duration('watch-interval', '10s'),
          writePolicy: writePolicy(values['allow-write'] as string[] | undefined),
        },
        registry,
        log,
      );
    }
    case 'validate':
      if (!positionals.length) throw new UsageError('validate needs at least one FILE');
      return validateCommand(positionals, { quiet: Boolean(values.quiet), writePolicy: writePolicy(values['allow-write'] as string[] | undefined) }, registry);
    case 'graph': {
      if (positionals.length !== 1) throw new UsageError('graph needs exactly one FILE');
      const f = (values.format as string | undefined) ?? 'text';
      if (f !== 'text' && f !== 'dot') throw new UsageError('--format must be text or dot');
      return graphCommand(positionals[0]!, f, registry);
    }
    case 'components':
      return componentsCommand(positionals[0], Boolean(values.json), registry);
    case 'doctor':
      return doctorCommand({ fix: Boolean(values.fix), json: Boolean(values.json) });
  }
}

/** --allow-write DIR (repeatable), else $PROBEFLOW_ALLOW_WRITE (colon-separated), else the default. */
function writePolicy(flags: string[] | undefined): WritePolicy {
  const dirs = flags?.length ? flags : process.env.PROBEFLOW_ALLOW_WRITE?.split(':').filter(Boolean);
  for (const d of dirs ?? []) if (!isAbsolute(d)) throw new UsageError(`--allow-write needs an absolute directory, got "${d}"`);
  return new WritePolicy(dirs?.length ? dirs : DEFAULT_WRITABLE_DIRS);
}

/** The first word that is neither an option nor the value of a global option before it. */
function findCommand(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--log-level' || a === '--log-format') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

export async function cli(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`probeflow: ${e.message}\nRun 'probeflow --help' for usage.\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`probeflow: internal error: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 1;
    }
  }
}

/**
 * Structured logger: JSON lines when stderr is not a terminal (DaemonSet logs are collected
 * and parsed), a compact human line when it is. Fields are flat key/values.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'text';
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const level = ORDER[opts.level ?? 'info'];
  const format = opts.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < level) return;
    const all = { ...bound, ...fields };
    if (format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...serialisable(all) }));
    } else {
      const kv = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(serialisable({ v }).v)}`)
        .join(' ');
      write(`${lvl.toUpperCase().padEnd(5)} ${msg}${kv ? '  ' + kv : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger({ level: opts.level, format, write }, { ...bound, ...f }),
  };
}

/** Errors do not survive JSON.stringify; keep their message (and code) instead of "{}". */
function serialisable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { message: v.message, ...((v as NodeJS.ErrnoException).code ? { code: (v as NodeJS.ErrnoException).code } : {}) } : v;
  }
  return out;
}

export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} });

import { createLogger, type Logger } from '../../engine/util/log.js';

export interface LogLine {
  msg: string;
  fields: Record<string, unknown>;
}

/** A debug-level logger whose lines are kept, parsed, for a test to read. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    write: (line) => {
      const { msg, ...fields } = JSON.parse(line) as { msg: string };
      lines.push({ msg, fields });
    },
  });
  return { logger, lines };
}

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigPath } from '../components/contracts.js';
import type { ConfigIssue } from './issue.js';

/**
 * A parsed config file that still knows where every value came from, so any later check
 * (schema, graph, a component's own) can point at FILE:LINE:COL.
 */
export class ConfigSource {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static parse(file: string, text: string): { source: ConfigSource; issues: ConfigIssue[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
    const source = new ConfigSource(file, doc, lines);
    const issues: ConfigIssue[] = [];
    for (const e of [...doc.errors, ...doc.warnings]) {
      const { line, col } = lines.linePos(e.pos[0]);
      issues.push({
        severity: doc.errors.includes(e as never) ? 'error' : 'warning',
        file,
        line,
        col,
        path: [],
        message: yamlMessage(e.code, e.message),
      });
    }
    return { source, issues };
  }

  position(offset: number): { line: number; col: number } {
    return this.lines.linePos(offset);
  }

  /**
   * Where `path` is in the file. With `key`, the position of the mapping key rather than its
   * value (an unknown key, a missing field's parent). Falls back to the deepest node that
   * exists, so an issue is never left without a line.
   */
  locate(path: ConfigPath, opts: { key?: boolean } = {}): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let keyNode: Node | undefined;
    let best: Node | undefined = (this.doc.contents as Node | null) ?? undefined;
    for (const seg of path) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
        best = (pair.value as Node | null) ?? keyNode;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        node = item;
        best = item as Node;
      } else break;
    }
    const target = opts.key && keyNode ? keyNode : best;
    const offset = target?.range?.[0] ?? 0;
    return this.position(offset);
  }

  /** The key node of the mapping that holds `path` (for "missing key" errors point at the parent). */
  locateParentKey(path: ConfigPath): { line: number; col: number } {
    return path.length ? this.locate(path, { key: true }) : this.position(0);
  }

  issue(severity: ConfigIssue['severity'], path: ConfigPath, message: string, opts: { key?: boolean } = {}): ConfigIssue {
    return { severity, file: this.file, ...this.locate(path, opts), path, message };
  }
}

/** The yaml library's messages are precise but terse; say what to do where it helps. */
function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'DUPLICATE_KEY':
      return `YAML: duplicate key: each key may appear once in a mapping (${first})`;
    case 'TAB_AS_INDENT':
      return 'YAML: tabs are not allowed for indentation; indent with spaces';
    case 'BAD_INDENT':
      return `YAML: bad indentation (${first}); align keys of one mapping in the same column`;
    default:
      return `YAML: ${first}`;
  }
}

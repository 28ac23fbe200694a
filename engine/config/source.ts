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
    // After the first syntax error the parser mostly reports consequences of it (one missing
    // bracket can yield dozens); the first one is the one to fix.
    const first = doc.errors[0];
    if (first) {
      const more = doc.errors.length - 1;
      issues.push({
        severity: 'error',
        file,
        ...lines.linePos(first.pos[0]),
        path: [],
        message: yamlMessage(first.code, first.message) + (more ? ` (and ${more} more YAML error${more === 1 ? '' : 's'} after it)` : ''),
      });
    }
    for (const w of doc.warnings) {
      issues.push({ severity: 'warning', file, ...lines.linePos(w.pos[0]), path: [], message: yamlMessage(w.code, w.message) });
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
      return /mapping items/i.test(first)
        ? `YAML: bad indentation: align the keys of one mapping in the same column (${first})`
        : `YAML: ${first}`;
    default:
      return `YAML: ${first}`;
  }
}

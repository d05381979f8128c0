/**
 * Checks a parsed YAML document against SPEC, reporting every problem with its position. Returns
 * the checked values (durations and sizes converted to ms and bytes) as plain data, and the
 * position of every key path, for the cross-field checks in load.ts.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { UserError } from '../errors.js';
import { parseDuration, parseRate, parseSize } from '../flush/units.js';
import { ProfileError, didYouMean, type ProfileErrorCode } from './errors.js';
import type { Spec } from './schema.js';

export type Checked = string | number | Checked[] | { [key: string]: Checked };

export interface Position {
  line: number;
  col: number;
}

export class Checker {
  readonly errors: ProfileError[] = [];
  readonly positions = new Map<string, Position>();

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  positionOf(node: Node | null | undefined): Position {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  report(code: ProfileErrorCode, at: Position, key: string, message: string, valid?: string): void {
    this.errors.push(new ProfileError(code, this.file, at.line, at.col, key, message, valid));
  }

  /** Undefined when the value is invalid (and reported). */
  check(node: Node | null | undefined, spec: Spec, key: string): Checked | undefined {
    if (isAlias(node)) node = node.resolve(this.doc) as Node | undefined;
    const at = this.positionOf(node);
    this.positions.set(key, at);
    switch (spec.type) {
      case 'map':
        return this.checkMap(node, spec, key);
      case 'scalar-or-map':
        if (isMap(node)) return this.checkMap(node, spec.map, key);
        if (isScalar(node) && typeof node.value === 'string' && spec.scalars.includes(node.value)) return node.value;
        {
          const guess = isScalar(node) ? didYouMean(String(node.value), spec.scalars) : undefined;
          const expectedText = `expected ${spec.scalars.map((s) => `'${s}'`).join(' or ')} or a map`;
          this.report(isScalar(node) ? 'BAD_VALUE' : 'WRONG_TYPE', at, key, guess ? `${expectedText}, did you mean '${guess}'?` : expectedText, `write e.g. ${key.split('.').pop()}: { label: PERSIST }`);
        }
        return undefined;
      case 'list': {
        if (!isSeq(node)) {
          this.report('WRONG_TYPE', at, key, `expected a list, got ${describe(node)}`, 'write a YAML list, e.g. [/tmp, /var/tmp]');
          return undefined;
        }
        const out: Checked[] = [];
        node.items.forEach((item, i) => {
          const value = this.check(item as Node, spec.items, `${key}[${i}]`);
          if (value !== undefined) out.push(value);
        });
        return out;
      }
      default:
        return this.checkScalar(node, spec, key, at);
    }
  }

  private checkMap(node: Node | null | undefined, spec: Spec & { type: 'map' }, key: string): Checked | undefined {
    const at = this.positionOf(node);
    if (!isMap(node)) {
      this.report('WRONG_TYPE', at, key, `expected a map, got ${describe(node)}`, `valid keys: ${Object.keys(spec.keys).join(', ')}`);
      return undefined;
    }
    const out: { [key: string]: Checked } = {};
    const names = Object.keys(spec.keys);
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const keyAt = this.positionOf(keyNode);
      const path = name === undefined ? key : key ? `${key}.${name}` : name;
      if (name === undefined) {
        this.report('WRONG_TYPE', keyAt, key, 'a key must be a plain string', `valid keys: ${names.join(', ')}`);
        continue;
      }
      const child = spec.keys[name];
      if (!child) {
        const guess = didYouMean(name, names);
        this.report('UNKNOWN_KEY', keyAt, path, guess ? `unknown key '${name}', did you mean '${guess}'?` : `unknown key '${name}'`, `valid keys here: ${names.join(', ')}`);
        continue;
      }
      const value = this.check(pair.value as Node | null, child, path);
      if (value !== undefined) out[name] = value;
    }
    const present = (k: string) => node.items.some((p) => isScalar(p.key) && p.key.value === k);
    for (const required of spec.required ?? []) {
      if (!present(required)) this.report('MISSING_KEY', at, key ? `${key}.${required}` : required, `'${required}' is required`, requiredHint(required));
    }
    if (spec.exactlyOne) {
      const given = spec.exactlyOne.filter(present);
      if (given.length === 0) this.report('MISSING_KEY', at, key, `needs one of ${spec.exactlyOne.join(', ')}`);
      else if (given.length > 1) this.report('CONFLICT', at, key, `${given.join(' and ')} cannot go together`, `give exactly one of ${spec.exactlyOne.join(', ')}`);
    }
    return out;
  }

  private checkScalar(node: Node | null | undefined, spec: Spec, key: string, at: Position): Checked | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      this.report('WRONG_TYPE', at, key, `expected ${expected(spec)}, got ${describe(node)}`);
      return undefined;
    }
    const raw = node.value;
    const text = String(raw);
    const bad = (message: string, valid?: string): undefined => {
      this.report('BAD_VALUE', at, key, message, valid);
      return undefined;
    };
    switch (spec.type) {
      case 'version':
        return raw === 1 ? 1 : bad(`unsupported version ${JSON.stringify(raw)}`, 'this persistd reads version: 1');
      case 'path':
        if (typeof raw !== 'string') return bad(`expected an absolute path, got ${text}`);
        if (!raw.startsWith('/')) return bad(`'${raw}' is not an absolute path`, 'start it with /');
        if (raw !== '/' && (raw.endsWith('/') || raw.includes('//') || /(^|\/)\.\.?(\/|$)/.test(raw))) return bad(`'${raw}' is not a normalised path`, 'no trailing /, //, . or .. components');
        return raw;
      case 'string':
        // A label such as 2024 is read by YAML as a number: take what was written.
        if (typeof raw === 'boolean' || !spec.pattern.test(text)) return bad(`'${text}' is not valid`, spec.valid);
        return text;
      case 'enum':
        if (typeof raw === 'string' && spec.values.includes(raw)) return raw;
        {
          const guess = didYouMean(text, spec.values);
          return bad(guess ? `'${text}' is not valid, did you mean '${guess}'?` : `'${text}' is not valid`, `one of ${spec.values.join(', ')}`);
        }
      case 'duration':
      case 'size':
      case 'rate':
        try {
          const parse = spec.type === 'duration' ? parseDuration : spec.type === 'size' ? parseSize : parseRate;
          const value = parse(text, key);
          if (value <= 0 && (spec.type === 'rate' || key === 'stage.size')) return bad('must be more than 0');
          return value;
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          return bad(`'${text}' is not a ${spec.type === 'rate' ? 'rate' : spec.type}`, err.hint);
        }
      default:
        return undefined;
    }
  }
}

function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return typeof node.value === 'string' ? `'${node.value}'` : String(node.value);
  return 'something else';
}

function expected(spec: Spec): string {
  switch (spec.type) {
    case 'path': return 'an absolute path';
    case 'duration': return 'a duration (e.g. 30s)';
    case 'size': return 'a size (e.g. 32MiB)';
    case 'rate': return 'a rate (e.g. 8MiB/s)';
    case 'enum': return `one of ${spec.values.join(', ')}`;
    case 'version': return '1';
    default: return 'a string';
  }
}

function requiredHint(key: string): string | undefined {
  if (key === 'version') return 'add version: 1';
  if (key === 'lower') return 'list the read-only layers, e.g. lower: [{ image: /run/media/root.squashfs }]';
  return undefined;
}

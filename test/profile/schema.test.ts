// config/profile.schema.json (what editors check) and SPEC (what persistd checks) must name the
// same keys, the same required keys and the same enum values: walk both and compare.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SPEC, type Spec } from '../../src/profile/index.js';
import { findRepoRoot } from '../support/repo-root.js';

type Json = { [key: string]: unknown };
const schema = JSON.parse(readFileSync(join(findRepoRoot(), 'config', 'profile.schema.json'), 'utf8')) as Json;

/** Every key path (`a.b`, lists as `a[]`), with `!` after required ones and `=v1|v2` after enums. */
function specKeys(spec: Spec, at: string, out: Set<string>): Set<string> {
  if (spec.type === 'map') {
    for (const [name, child] of Object.entries(spec.keys)) {
      const path = at ? `${at}.${name}` : name;
      out.add(path + (spec.required?.includes(name) ? '!' : ''));
      specKeys(child, path, out);
    }
  } else if (spec.type === 'list') specKeys(spec.items, `${at}[]`, out);
  else if (spec.type === 'scalar-or-map') {
    out.add(`${at}=${spec.scalars.join('|')}`);
    specKeys(spec.map, at, out);
  } else if (spec.type === 'enum') out.add(`${at}=${spec.values.join('|')}`);
  return out;
}

function schemaKeys(node: Json, at: string, out: Set<string>): Set<string> {
  if (node['type'] === 'object') assert.equal(node['additionalProperties'], false, `${at || 'the root'} must refuse unknown keys, as persistd does`);
  const required = (node['required'] as string[] | undefined) ?? [];
  for (const [name, child] of Object.entries((node['properties'] as Record<string, Json> | undefined) ?? {})) {
    const path = at ? `${at}.${name}` : name;
    out.add(path + (required.includes(name) ? '!' : ''));
    schemaKeys(child, path, out);
  }
  if (node['items']) schemaKeys(node['items'] as Json, `${at}[]`, out);
  if (node['enum']) out.add(`${at}=${(node['enum'] as string[]).join('|')}`);
  for (const alternative of (node['oneOf'] as Json[] | undefined) ?? []) {
    if ('const' in alternative) out.add(`${at}=${String(alternative['const'])}`);
    else schemaKeys(alternative, at, out);
  }
  return out;
}

describe('profile: JSON Schema and validator agree', () => {
  it('is a draft 2020-12 schema', () => {
    assert.equal(schema['$schema'], 'https://json-schema.org/draft/2020-12/schema');
  });

  it('names the same keys, required keys and enum values', () => {
    const fromSpec = [...specKeys(SPEC, '', new Set())].sort();
    const fromSchema = [...schemaKeys(schema, '', new Set())].sort();
    assert.ok(fromSpec.length > 30, `walked only ${fromSpec.length} keys`);
    assert.deepEqual(fromSchema, fromSpec);
  });

  it('the examples point editors at the schema', () => {
    for (const name of ['live-usb', 'sd-card-iot', 'fat-stick-image']) {
      const text = readFileSync(join(findRepoRoot(), 'config', 'examples', `${name}.yaml`), 'utf8');
      assert.match(text.split('\n')[0]!, /^# yaml-language-server: \$schema=\.\.\/profile\.schema\.json$/);
    }
  });
});

/**
 * Profile errors, modelled on the `yaml` package's YAMLError: a code, where (file, 1-based line
 * and column), which key (a dotted path such as `flush.interval` or `layers.lower[0]`), what is
 * wrong and what would be valid. A load reports every problem it finds, not just the first.
 */

export type ProfileErrorCode =
  | 'READ_FAILED' // the file could not be read
  | 'YAML_SYNTAX' // not YAML (yaml's own code is in `yamlCode`), including duplicate keys
  | 'UNKNOWN_KEY' // a key the profile does not have (with "did you mean")
  | 'WRONG_TYPE' // a map where a string belongs, a string where a list belongs, ...
  | 'BAD_VALUE' // the right type, but not a valid value (a duration, a size, a relative path, ...)
  | 'MISSING_KEY' // a required key is absent
  | 'CONFLICT'; // keys that cannot go together (label and uuid; a path both volatile and fsync-honor)

export class ProfileError extends Error {
  constructor(
    readonly code: ProfileErrorCode,
    readonly file: string,
    readonly line: number,
    readonly col: number,
    /** Dotted key path; '' for the document itself. */
    readonly key: string,
    message: string,
    /** What would be valid, when there is something to say. */
    readonly valid?: string,
    readonly yamlCode?: string,
  ) {
    super(message);
    this.name = 'ProfileError';
  }

  /** `file:line:col: key: message; valid` — one line, as compilers print. */
  format(): string {
    const key = this.key ? `${this.key}: ` : '';
    return `${this.file}:${this.line}:${this.col}: ${key}${this.message}${this.valid ? `; ${this.valid}` : ''}`;
  }
}

/** Thrown by loadProfile when anything is wrong; carries every error found. */
export class ProfileErrors extends Error {
  constructor(readonly errors: readonly ProfileError[]) {
    super(errors.map((e) => e.format()).join('\n'));
    this.name = 'ProfileErrors';
  }
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), if any. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

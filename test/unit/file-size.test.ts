import { describe, expect, it } from '@jest/globals';
/**
 * House rule (STYLE.md): one concept per file, usually 50–250 lines; a file in src/ past 300 lines says at
 * its top why. "Says why" is checked as: its opening comment names its size ("... 300 lines", "About 390
 * lines: ...") followed by a reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const LIMIT = 300;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The file's first block comment, or '' when it does not open with one. */
function openingComment(text: string): string {
  const m = /^\s*\/\*\*?([\s\S]*?)\*\//.exec(text);
  return m ? m[1]! : '';
}

describe('file size (src/)', () => {
  const files = tsFiles('src').map((path) => {
    const text = readFileSync(path, 'utf8');
    return { path, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), text };
  });

  it('sees the source tree (guard: the check below would pass on an empty list)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.lines > LIMIT)).toBe(true);
  });

  it('every file past 300 lines says at its top why', () => {
    const silent = files
      .filter((f) => f.lines > LIMIT)
      .filter(
        (f) =>
          !/\d{3}[ \u00a0]lines\b[^\n]*[:;,][^\n]*\S/.test(
            openingComment(f.text).replace(/\n\s*\*\s*/g, ' '),
          ),
      )
      .map((f) => `${f.path} (${f.lines} lines)`);
    expect(silent).toEqual([]);
  });
});

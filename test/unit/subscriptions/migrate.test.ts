import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultSqlDir } from '../../../src/subscriptions/migrate.js';

const root = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const sqlDir = join(root, 'schemas', 'sql');

describe('defaultSqlDir', () => {
  it('finds schemas/sql from the source layout (tsx, jest)', () => {
    expect(defaultSqlDir(pathToFileURL(join(root, 'src/subscriptions/migrate.ts')).href)).toBe(sqlDir);
    expect(existsSync(join(sqlDir, '001_webhook_subscriptions.sql'))).toBe(true);
  });

  it('finds schemas/sql from the compiled layout (dist/src/subscriptions)', () => {
    expect(defaultSqlDir(pathToFileURL(join(root, 'dist/src/subscriptions/migrate.js')).href)).toBe(sqlDir);
  });

  it("finds schemas/sql from the benchmark's build (bench/.build/src/subscriptions)", () => {
    const built = join(root, 'bench/.build/src/subscriptions/migrate.js');
    expect(defaultSqlDir(pathToFileURL(built).href)).toBe(sqlDir);
  });

  it('says where it looked when there is no sql folder', () => {
    expect(() => defaultSqlDir(pathToFileURL('/nowhere/a/b/migrate.js').href)).toThrow(
      /migrations folder not found/,
    );
  });
});

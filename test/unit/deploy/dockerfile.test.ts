/**
 * deploy/Dockerfile and .dockerignore, checked statically (nothing can `docker build` here): multi-stage on
 * the Node LTS the tests run on, production dependencies only in the runtime stage, a numeric non-root user,
 * ENTRYPOINT = the package's CLI binary with `run` as the default command, and a build context (the
 * .dockerignore allow-list) that holds everything the build compiles.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { readRepoFile, repoPath, repoRoot } from './helpers.js';

const dockerfile = readRepoFile('deploy/Dockerfile');
// Instructions with their continuation lines joined, comments dropped.
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([line]);
  else acc.at(-1)?.push(line);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];
const pkg = JSON.parse(readRepoFile('package.json')) as {
  engines: { node: string };
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};
const buildConfig = JSON.parse(readRepoFile('tsconfig.build.json')) as { include: string[] };

describe('deploy/Dockerfile', () => {
  it('is multi-stage on the Node major the tests run on (.nvmrc) and package.json requires', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const image = /^ARG NODE_IMAGE=node:(\d+)/m.exec(dockerfile)?.[1];
    // scripts/ensure-node.sh runs CI, the demo and the tests on .nvmrc's exact version.
    const tested = /^(\d+)\.\d+\.\d+$/.exec(readRepoFile('.nvmrc').trim())?.[1];
    expect(image).toBeDefined();
    expect(image).toBe(tested);
    expect(pkg.engines.node).toBe(`>=${image}`);
    expect(Number(image) % 2).toBe(0); // even majors become LTS
  });

  it('installs with npm ci from the lockfile, and only production dependencies reach the runtime', () => {
    expect(instructions.some((l) => /npm ci\b/.test(l) && !l.includes('--omit=dev'))).toBe(true); // build stage
    const prodInstall = stages.find((s) => s.some((l) => /npm ci\b.*--omit=dev/.test(l)));
    expect(prodInstall).toBeDefined();
    expect(runtime.some((l) => /\bnpm\b/.test(l) && !l.startsWith('RUN rm'))).toBe(false);
    expect(runtime.filter((l) => l.startsWith('COPY --from=')).some((l) => l.includes('node_modules'))).toBe(
      true,
    );
  });

  it('runs as a numeric non-root user', () => {
    const user = runtime.find((l) => l.startsWith('USER '));
    expect(user).toMatch(/^USER [1-9]\d*(:\d+)?$/);
  });

  it("uses the package's CLI as ENTRYPOINT with `run` as the default command", () => {
    const cli = Object.values(pkg.bin)[0];
    expect(runtime).toContain(`ENTRYPOINT ["node", "${cli}"]`);
    expect(runtime).toContain('CMD ["run"]');
  });

  it('ships the schemas the service reads at run time', () => {
    expect(runtime.some((l) => /^COPY .*\/schemas \.\/schemas$/.test(l))).toBe(true);
  });
});

/** The .ts files the build compiles: tsconfig.build.json's includes, then their relative imports. */
function compiledFiles(): string[] {
  const files = new Set<string>();
  const walk = (path: string): void => {
    if (!existsSync(path) || files.has(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) walk(join(path, entry));
      return;
    }
    if (!path.endsWith('.ts') || path.endsWith('.d.ts')) return;
    files.add(path);
    for (const spec of importSpecifiers(path)) {
      if (spec.startsWith('.')) walk(join(dirname(path), spec.replace(/\.js$/, '.ts')));
    }
  };
  for (const include of buildConfig.include) walk(repoPath(include));
  return [...files];
}

/** Module specifiers of value imports and re-exports (type-only imports vanish from the output). */
function importSpecifiers(file: string): string[] {
  const source = readRepoFile(relative(repoRoot, file));
  const specs: string[] = [];
  for (const m of source.matchAll(
    /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm,
  )) {
    specs.push(m[1]!);
  }
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

describe('runtime dependencies', () => {
  it('every package the compiled code imports is a production dependency (the image has no others)', () => {
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const files = compiledFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const spec of importSpecifiers(file)) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!(name in pkg.dependencies)) problems.push(`${relative(repoRoot, file)}: ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('.dockerignore', () => {
  const lines = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const reincluded = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));

  it('is an allow-list: everything is ignored first', () => {
    expect(lines[0]).toBe('*');
  });

  it('lets in what `npm ci` and `tsc -p tsconfig.build.json` read', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'schemas',
      ...buildConfig.include,
    ];
    const covered = (path: string) => reincluded.some((r) => path === r || path.startsWith(`${r}/`));
    expect(needed.filter((p) => !covered(p))).toEqual([]);
  });
});

/**
 * Group `profile` (BENCH_PROFILE=1): the fan-out-1 throughput run under --cpu-prof, and its top self
 * times by function and by area (bench/lib/profile.ts). Slower than unprofiled: its rate is not compared.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, sleep } from '../lib/child.js';
import { selfTimeByArea, topSelfTime, type SelfTime } from '../lib/profile.js';
import type { RunResult } from '../lib/result.js';
import type { OursRunner } from './ours.js';

export interface ProfileSummary {
  /** The main thread's .cpuprofile, relative to the repository. */
  readonly file: string;
  readonly totalMs: number;
  readonly top: SelfTime[];
  readonly areas: Record<string, number>;
}

export async function runProfile(
  ours: OursRunner,
  capSeconds: number,
): Promise<{ result: RunResult; profile: ProfileSummary }> {
  const dir = join(REPO_ROOT, 'bench/.profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // BENCH_PROFILE_LOG=all|failures: the same run with the delivery log on (where its CPU goes).
  const log = process.env.BENCH_PROFILE_LOG;
  const r = await ours('profile.fo1.undici', {
    capSeconds,
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    ...(log ? { env: { DELIVERY_LOG: log }, postgres: true } : {}),
  });
  await sleep(500);
  // One profile per thread (tsx's loader runs in a worker): the main thread's is `CPU.<date>.<time>.<pid>.0.<seq>`.
  const file = readdirSync(dir)
    .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error('no .cpuprofile written');
  return {
    result: { ...r, notes: ['profiled: slower than unprofiled'] },
    profile: {
      file: file.replace(`${REPO_ROOT}/`, ''),
      ...topSelfTime(file, REPO_ROOT, 30),
      areas: selfTimeByArea(file, REPO_ROOT),
    },
  };
}

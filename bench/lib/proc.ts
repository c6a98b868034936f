/**
 * CPU and memory of a process tree from /proc (Linux), so every process under test — our connector, the
 * ceilings, the naive baseline, the peer (whose runtime may fork) — is measured the same way, from outside.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface StatLine {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime in ms. */
  readonly cpuMs: number;
}

export function readStat(pid: number): StatLine | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return { pid, ppid, cpuMs: ((utime + stime) * 1000) / clockTicks() };
  } catch {
    return null;
  }
}

/** utime + stime of one thread, ms (`tid` = `pid`: the process's main thread). */
export function readThreadCpuMs(pid: number, tid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(st.pid);
    else children.set(st.ppid, [st.pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

export interface ProcSample {
  readonly at: number;
  /** CPU ms used so far by the tree (its live members). */
  readonly cpuMs: number;
  /** CPU ms used so far by the root's main thread (for Node: the event loop's thread). */
  readonly mainCpuMs: number;
  /** Current RSS of the tree, MB. */
  readonly rssMb: number;
  /** Sum of the members' peak RSS (VmHWM), MB: the peak of a one-process tree. */
  readonly peakRssMb: number;
}

export function sampleTree(
  root: number,
  seen?: Set<number>,
  pids: readonly number[] = processTree(root),
): ProcSample {
  let cpuMs = 0;
  let rssKb = 0;
  let hwmKb = 0;
  for (const pid of pids) {
    seen?.add(pid);
    cpuMs += readStat(pid)?.cpuMs ?? 0;
    rssKb += statusKb(pid, 'VmRSS');
    hwmKb += statusKb(pid, 'VmHWM');
  }
  const mainCpuMs = readThreadCpuMs(root, root) ?? 0;
  return { at: Date.now(), cpuMs, mainCpuMs, rssMb: rssKb / 1024, peakRssMb: hwmKb / 1024 };
}

/**
 * Samples a tree every `intervalMs` until stopped; `cpuBetween` interpolates the CPU used in a time window
 * (the steady-state window of a run), `peakRssMb` is the highest peak seen (the kernel's own VmHWM).
 */
export class ProcMonitor {
  private readonly samples: ProcSample[] = [];
  private readonly seen = new Set<number>();
  private pids: number[] = [];
  private ticks = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    readonly pid: number,
    intervalMs = 250,
  ) {
    this.take();
    this.timer = setInterval(() => this.take(), intervalMs);
    this.timer.unref();
  }

  take(): ProcSample | undefined {
    // Scanning /proc for the tree costs more than reading a few files: refresh it every 2 s only.
    if (this.ticks++ % 8 === 0) this.pids = processTree(this.pid);
    const s = sampleTree(this.pid, this.seen, this.pids);
    // A dead process reads as zero: keep the last real sample instead.
    if (s.cpuMs === 0 && s.rssMb === 0 && this.samples.length > 0) return undefined;
    this.samples.push(s);
    return s;
  }

  stop(): void {
    this.take();
    clearInterval(this.timer);
  }

  /** Every pid ever seen in the tree that is still alive (to end a runtime's forks by PID). */
  treePids(): number[] {
    return [...this.seen].filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
  }

  get peakRssMb(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.peakRssMb), 0);
  }

  get lastRssMb(): number {
    return this.samples.at(-1)?.rssMb ?? 0;
  }

  /** CPU ms spent between two wall-clock times (ms since epoch), linearly interpolated between samples. */
  cpuBetween(from: number, to: number): number | null {
    return this.between('cpuMs', from, to);
  }

  /** The same for the root's main thread alone. */
  mainCpuBetween(from: number, to: number): number | null {
    return this.between('mainCpuMs', from, to);
  }

  private between(field: 'cpuMs' | 'mainCpuMs', from: number, to: number): number | null {
    const a = this.at(field, from);
    const b = this.at(field, to);
    return a === null || b === null ? null : Math.max(0, b - a);
  }

  private at(field: 'cpuMs' | 'mainCpuMs', t: number): number | null {
    const s = this.samples;
    if (s.length === 0) return null;
    if (t <= s[0]!.at) return s[0]![field];
    for (let k = 1; k < s.length; k++) {
      const prev = s[k - 1]!;
      const next = s[k]!;
      if (t <= next.at) {
        return prev[field] + ((next[field] - prev[field]) * (t - prev.at)) / Math.max(1, next.at - prev.at);
      }
    }
    return s.at(-1)![field];
  }
}

/** The 1/5/15-minute load averages and the number of cores. */
export function loadAverage(): { one: number; five: number; fifteen: number; cores: number } {
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return { one: one!, five: five!, fifteen: fifteen!, cores: cpuCount() };
}

function cpuCount(): number {
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  return (text.match(/^processor\s*:/gm) ?? []).length || 1;
}

export function machineDescription(): string {
  let model = 'unknown CPU';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    /* not Linux */
  }
  let memGb = 0;
  try {
    memGb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024 / 1024;
  } catch {
    /* not Linux */
  }
  return `${cpuCount()} × ${model}, ${memGb.toFixed(0)} GiB RAM, Linux, Node ${process.version}`;
}

/** Busy CPU of the whole machine (all cores, ms), from /proc/stat: shows when everything competes for CPU. */
function machineBusyMs(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const tick = 1000 / clockTicks();
  return { busy: (total - idle) * tick, total: total * tick };
}

/** Samples the machine's busy CPU; `busyPercentBetween` gives it in % of one core (200 % = both cores busy). */
export class MachineMonitor {
  private readonly samples: { at: number; busy: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(intervalMs = 500) {
    this.take();
    this.timer = setInterval(() => this.take(), intervalMs);
    this.timer.unref();
  }
  private take(): void {
    this.samples.push({ at: Date.now(), busy: machineBusyMs().busy });
  }
  stop(): void {
    clearInterval(this.timer);
  }
  busyPercentBetween(from: number, to: number): number | null {
    const before = this.samples.filter((s) => s.at <= from).at(-1);
    const after = this.samples.find((s) => s.at >= to) ?? this.samples.at(-1);
    if (!before || !after || after.at <= before.at) return null;
    return ((after.busy - before.busy) / (after.at - before.at)) * 100;
  }
}

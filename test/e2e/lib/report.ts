// Per-scenario results: pass/fail, total time, the convergence time of each
// step. Printed as a table at the end of the run and written to
// test/e2e/.work/summary-<env>.{md,json} (and into the run directory).
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { WORK_ROOT } from './env.js';

export interface ScenarioResult {
  cloud: string;
  scenario: string;
  title: string;
  ok: boolean;
  seconds: number;
  steps: Array<{ label: string; seconds: number }>;
  notes: string[];
  error?: string;
}

export class Report {
  readonly results: ScenarioResult[] = [];
  private readonly started = new Date();

  add(r: ScenarioResult): void {
    this.results.push(r);
  }

  table(): string {
    const rows = this.results.map((r) => [
      r.ok ? 'PASS' : 'FAIL',
      r.cloud,
      r.scenario,
      `${r.seconds.toFixed(1)} s`,
      r.steps.map((s) => `${s.label} ${s.seconds.toFixed(1)} s`).join('; ') + (r.ok ? '' : ` | ${firstLine(r.error)}`),
    ]);
    const head = ['result', 'cloud', 'scenario', 'total', 'time to converge, per step'];
    return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  }

  write(envName: string, runDir: string, flags: Record<string, string[]>): string {
    const passed = this.results.filter((r) => r.ok).length;
    const total = this.results.reduce((s, r) => s + r.seconds, 0);
    const md = [
      `# mcm-grpc-driver e2e (${envName}) ${this.started.toISOString()}`,
      '',
      `${passed}/${this.results.length} scenarios passed; scenario time ${total.toFixed(0)} s; wall ${((Date.now() - this.started.getTime()) / 1000).toFixed(0)} s; logs: ${runDir}`,
      '',
      this.table(),
      '',
      '## Notes',
      ...this.results.flatMap((r) => r.notes.map((n) => `- ${r.cloud}/${r.scenario}: ${n}`)),
      ...this.results.filter((r) => !r.ok).map((r) => `- ${r.cloud}/${r.scenario} FAILED: ${r.error}`),
      '',
      '## Command lines',
      ...Object.entries(flags).map(([k, v]) => `- ${k}: \`${v.join(' ')}\``),
      '',
    ].join('\n');
    mkdirSync(WORK_ROOT, { recursive: true });
    const mdFile = path.join(WORK_ROOT, `summary-${envName}.md`);
    const jsonFile = path.join(WORK_ROOT, `summary-${envName}.json`);
    writeFileSync(mdFile, md);
    writeFileSync(jsonFile, JSON.stringify({ env: envName, started: this.started, results: this.results, flags }, null, 2));
    copyFileSync(mdFile, path.join(runDir, 'summary.md'));
    copyFileSync(jsonFile, path.join(runDir, 'summary.json'));
    return md;
  }
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0]!.slice(0, 200);
}

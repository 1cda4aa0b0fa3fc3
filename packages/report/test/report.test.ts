import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { appendLineageEvent, ConfigError, InputError, sha256 } from '@enecg/common';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { lineageVerify, type RenderReportSummary, renderReport } from '../src/index.ts';
import { runEnecg } from './cli.ts';
import { buildWarehouse, evaluationFixture, LABEL_SQL, type WarehouseFixture } from './warehouse-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = fileURLToPath(new URL('../test-output/', import.meta.url));

/** The plots a run with the fixture's evaluation and labels must show. */
function expectedPlots(fixture: WarehouseFixture): string[] {
  const evaluation = evaluationFixture(fixture.modelId, fixture.runIds.evaluate, 42);
  const model = Object.entries(evaluation.tasks).flatMap(([task, result]) => [
    `${fixture.modelId}-${task}-metrics`,
    `${fixture.modelId}-${task}-${result!.kind === 'regression' ? 'scatter' : 'confusion'}`,
    `${fixture.modelId}-${task}-gate`,
  ]);
  const labels = ['gender', 'flag', 'potassium_class', 'report_label'].map(
    (label) => `labels-${label}-classes`,
  );
  return [
    ...model,
    `${fixture.modelId}-gate-by-task`,
    `${fixture.modelId}-training-curve`,
    ...labels,
    'labels-rr_interval-histogram',
    'labels-age-histogram',
  ];
}

describe('renderReport', () => {
  let fixture: WarehouseFixture;
  let summary: RenderReportSummary;
  beforeAll(async () => {
    fixture = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-report-')));
    summary = await renderReport({ warehouse: fixture.warehouse, runId: fixture.pipelineRunId });
  }, 60_000);

  it('writes a self-contained HTML page and a Markdown summary into runs/<runId>/', async () => {
    expect(summary.html).toBe(join(fixture.warehouse, 'runs', fixture.pipelineRunId, 'report.html'));
    expect(summary.models).toEqual([fixture.modelId]);
    expect(summary.plots).toBe(expectedPlots(fixture).length);
    const html = await readFile(summary.html, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|url\((?!#)|@import/i);
    expect(html).toContain("default-src 'none'");
    for (const id of expectedPlots(fixture)) expect(html).toContain(`data-plot="${id}"`);
    const markdown = await readFile(summary.markdown, 'utf8');
    const mae = evaluationFixture(fixture.modelId, fixture.runIds.evaluate, 42).tasks.rr_interval!.ensemble
      .mae!;
    expect(markdown).toContain(
      `| ensemble | ${mae.value.toFixed(1)} [${mae.lo.toFixed(1)}, ${mae.hi.toFixed(1)}]`,
    );
    expect(markdown).toContain(
      'Ensemble minus baseline, mae (paired 95% interval): -39.0 [-54.6, -23.4]; the ensemble beats the baseline.',
    );
    expect(markdown).toContain('no evidence that the ensemble differs from the baseline');
    expect(markdown).toContain('> Experts without a checkpoint (random initialisation): timesnet.');
    expect(markdown).toContain('timesnet: random-init (no checkpoint given)');
    expect(markdown).toContain(
      'Ensemble minus its best single expert (moment), mae (paired 95% interval): -2.000 [-5.000, 1.000]; no evidence that the ensemble differs from its best single expert.',
    );
    expect(markdown).toContain('### Ensemble against its best single expert');
    expect(markdown).toContain('| rr_interval | moment | mae | -2.000 [-5.000, 1.000] | inconclusive |');
    expect(markdown).toContain('### Which expert the gate trusts, per task');
    expect(markdown).toContain('The model keeps the weights of epoch 4 (lowest validation loss');
    expect(markdown).toContain('label rules rules-v1');
    expect(markdown).toContain(LABEL_SQL);
    expect(html).toContain('scheduled for 2026-11-21T18:00:00.000Z');
    expect(markdown).toContain('| header declares 12 signals, found 11 | 1 |');
    // The run's champion decision, with the rule that made it.
    expect(markdown).toContain('## Champion decision');
    expect(markdown).toContain(
      'first-champion under rule paired-bootstrap-v1 (confidence 0.95), on split val',
    );
  });

  it('renders the same bytes again, and records itself in lineage so verify covers the report', async () => {
    const again = await renderReport({ warehouse: fixture.warehouse, runId: fixture.pipelineRunId });
    expect(again.htmlSha256).toBe(summary.htmlSha256);
    expect(again.markdownSha256).toBe(summary.markdownSha256);
    const verify = await lineageVerify(fixture.warehouse);
    expect(verify.problems).toEqual([]);
    // Eight stage artifacts, the promotion decision, report.html and report.md.
    expect(verify.checked).toBe(11);
  }, 60_000);

  it('evaluating and rendering again add files beside the earlier ones, never rewrite them; verify stays clean', async () => {
    const copy = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-report-again-')));
    const first = await renderReport({ warehouse: copy.warehouse, runId: copy.pipelineRunId });
    const artifacts = async () => {
      const files = new Map<string, string>();
      for (const folder of ['models', 'runs']) {
        for (const entry of await readdir(join(copy.warehouse, folder), {
          recursive: true,
          withFileTypes: true,
        })) {
          if (entry.isFile()) {
            const file = join(entry.parentPath, entry.name);
            files.set(file, sha256(await readFile(file)));
          }
        }
      }
      return files;
    };
    const before = await artifacts();
    const complete = (runId: string, parentRunId: string | undefined, path: string) =>
      appendLineageEvent(copy.warehouse, {
        eventType: 'COMPLETE',
        eventTime: new Date().toISOString(),
        run: parentRunId === undefined ? { runId } : { runId, parentRunId },
        job: { name: 'evaluate' },
        inputs: [],
        outputs: [{ name: `models/${copy.modelId}/evaluations/test`, path }],
        facets: {},
      });
    // Another run evaluates the model again and reuses the stored evaluation: the pipeline's report is unchanged.
    await complete('evaluate-elsewhere', undefined, join(copy.warehouse, copy.evaluationFile));
    const unchanged = await renderReport({ warehouse: copy.warehouse, runId: copy.pipelineRunId });
    expect(unchanged).toMatchObject({
      html: first.html,
      htmlSha256: first.htmlSha256,
      models: [copy.modelId],
    });
    // Within the pipeline, an evaluation with more replicates: its report goes beside the first one.
    const more = evaluationFixture(copy.modelId, 'evaluate-more', 42);
    more.replicates = 2000;
    more.tasks.rr_interval!.ensemble.mae!.value = 71.5;
    const moreFile = join(
      copy.warehouse,
      'models',
      copy.modelId,
      'evaluations',
      'test-00000000000000aa.json',
    );
    await writeFile(moreFile, `${JSON.stringify(more, null, 2)}\n`);
    await complete('evaluate-more', copy.pipelineRunId, moreFile);
    const second = await renderReport({ warehouse: copy.warehouse, runId: copy.pipelineRunId });
    expect(second.html).toBe(
      join(copy.warehouse, 'runs', copy.pipelineRunId, `report-${second.htmlSha256.slice(0, 16)}.html`),
    );
    expect(second.markdown).toMatch(/report-[0-9a-f]{16}\.md$/);
    expect(await readFile(second.markdown, 'utf8')).toContain('| ensemble | 71.5 [');
    const after = await artifacts();
    for (const [file, hash] of before) expect(after.get(file), file).toBe(hash);
    expect(after.size).toBe(before.size + 3);
    expect((await lineageVerify(copy.warehouse)).problems).toEqual([]);
  }, 60_000);

  it('names the file and field of a malformed evaluation', async () => {
    const broken = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-report-broken-')));
    const file = join(broken.warehouse, broken.evaluationFile);
    const { runId: _, ...withoutRunId } = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify(withoutRunId));
    const attempt = renderReport({ warehouse: broken.warehouse, runId: broken.pipelineRunId });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(`${file}, field runId: missing or not a string`);
  });

  it('refuses an unknown run with a ConfigError naming the key', async () => {
    await expect(renderReport({ warehouse: fixture.warehouse, runId: 'nope' })).rejects.toThrow(ConfigError);
    await expect(renderReport({ warehouse: fixture.warehouse, runId: 'nope' })).rejects.toThrow(/^run: /);
  });

  it('enecg report RUN renders the same report from the command line', async () => {
    const result = await runEnecg([
      'report',
      fixture.pipelineRunId,
      '--warehouse',
      fixture.warehouse,
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ htmlSha256: summary.htmlSha256, plots: summary.plots });
  }, 60_000);

  it.skipIf(!existsSync(CHROMIUM))(
    `opens in headless Chromium with no console errors, no requests, and every plot drawn (needs ${CHROMIUM}: apt-get install chromium)`,
    async () => {
      const profile = await mkdtemp(join(tmpdir(), 'enecg-chromium-'));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1280, height: 900 },
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        const requests: string[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
        });
        page.on('pageerror', (error) => problems.push(error.message));
        page.on('request', (request) => requests.push(request.url()));
        const url = pathToFileURL(summary.html).href;
        await page.goto(url, { waitUntil: 'load' });

        const plots = await page.$$eval('figure.plot', (figures) =>
          figures.map((figure) => {
            const svg = figure.querySelector('svg');
            const box = svg?.getBoundingClientRect();
            return {
              id: figure.getAttribute('data-plot'),
              width: box?.width ?? 0,
              height: box?.height ?? 0,
              marks: svg?.querySelectorAll('path, rect, circle, line').length ?? 0,
              text: svg?.querySelectorAll('text').length ?? 0,
            };
          }),
        );
        expect(plots.map((plot) => plot.id)).toEqual(expectedPlots(fixture));
        for (const plot of plots) {
          expect(plot.width, plot.id!).toBeGreaterThan(100);
          expect(plot.height, plot.id!).toBeGreaterThan(100);
          expect(plot.marks, plot.id!).toBeGreaterThan(5);
          expect(plot.text, plot.id!).toBeGreaterThan(3);
        }
        await mkdir(SCREENSHOT_DIR, { recursive: true });
        const screenshot = join(SCREENSHOT_DIR, 'report.png');
        await page.screenshot({ path: screenshot, fullPage: true });
        expect(existsSync(screenshot)).toBe(true);
        expect(problems).toEqual([]);
        expect(requests).toEqual([url]);
      } finally {
        await context.close();
      }
    },
    60_000,
  );
});

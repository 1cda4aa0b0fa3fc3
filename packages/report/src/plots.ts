import { parse, View } from 'vega';
import type { Config, TopLevelSpec } from 'vega-lite';
import { compile } from 'vega-lite';

/** A chart ready to embed: an inline SVG, rendered in Node, so the page needs no script or network. */
export interface Plot {
  id: string;
  title: string;
  svg: string;
}

type ChartSpec = TopLevelSpec;

const CONFIG: Config = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 13, anchor: 'start' },
  view: { stroke: '#cccccc' },
  range: { category: ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#9d755d'] },
};

/**
 * Vega numbers gradient and clip ids with a process-wide counter: prefixing them with the plot id keeps ids
 * unique among the page's inline SVGs and makes the output independent of what was rendered before.
 */
function scopeSvgIds(svg: string, plotId: string): string {
  const ids = new Map<string, string>();
  let next = 0;
  return svg.replace(/(id="|url\(#|href="#)([^")]+)/g, (_, prefix: string, name: string) => {
    if (!ids.has(name)) ids.set(name, `${plotId}-${next++}`);
    return `${prefix}${ids.get(name)}`;
  });
}

/** Compiles Vega-Lite and renders it headlessly (the `none` renderer needs no canvas). */
export async function renderPlot(id: string, title: string, spec: ChartSpec): Promise<Plot> {
  const vega = compile({ ...spec, config: CONFIG }).spec;
  const view = new View(parse(vega), { renderer: 'none' });
  try {
    return { id, title, svg: scopeSvgIds(await view.toSVG(), id) };
  } finally {
    view.finalize();
  }
}

/** The ensemble stands out; experts share one colour; the trivial baseline is grey. */
const SOURCE_COLOUR = {
  field: 'kind',
  type: 'nominal',
  legend: null,
  scale: { domain: ['ensemble', 'expert', 'baseline'], range: ['#d62728', '#4c78a8', '#8c8c8c'] },
} as const;

/** Heatmaps read better without grid lines crossing their cells. */
const NO_GRID = { grid: false } as const;

export interface IntervalPoint {
  source: string;
  metric: string;
  value: number;
  lo: number;
  hi: number;
}

/** Point estimates with their 95% intervals, one panel per metric, one row per model/baseline. */
export function intervalChart(points: IntervalPoint[]): ChartSpec {
  return {
    data: { values: points },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 220,
      height: { step: 22 },
      layer: [
        {
          mark: { type: 'rule', strokeWidth: 2 },
          encoding: {
            y: { field: 'source', type: 'nominal', title: null, sort: null },
            x: {
              field: 'lo',
              type: 'quantitative',
              title: 'estimate and 95% interval',
              scale: { zero: false },
            },
            x2: { field: 'hi' },
            color: SOURCE_COLOUR,
          },
        },
        {
          mark: { type: 'point', filled: true, size: 60 },
          encoding: {
            y: { field: 'source', type: 'nominal', sort: null },
            x: { field: 'value', type: 'quantitative' },
            color: SOURCE_COLOUR,
          },
        },
      ],
    },
    transform: [
      {
        calculate:
          "datum.source === 'ensemble' ? 'ensemble' : datum.source === 'baseline' ? 'baseline' : 'expert'",
        as: 'kind',
      },
    ],
  };
}

/** Rows are true classes, columns predicted; colour is the share of the true class, text the count. */
export function confusionChart(matrix: number[][], classNames: string[]): ChartSpec {
  const cells = matrix.flatMap((row, i) => {
    const total = row.reduce((sum, count) => sum + count, 0);
    return row.map((count, j) => ({
      actual: classNames[i] ?? String(i),
      predicted: classNames[j] ?? String(j),
      count,
      share: total > 0 ? count / total : 0,
    }));
  });
  const step = classNames.length > 6 ? 26 : 56;
  const order = classNames.slice(0, matrix.length);
  return {
    data: { values: cells },
    width: { step },
    height: { step },
    encoding: {
      x: {
        field: 'predicted',
        type: 'ordinal',
        sort: order,
        title: 'predicted',
        axis: { ...NO_GRID, labelAngle: -45 },
      },
      y: { field: 'actual', type: 'ordinal', sort: order, title: 'true', axis: NO_GRID },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'share',
            type: 'quantitative',
            title: 'row share',
            scale: { scheme: 'blues', domain: [0, 1] },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: classNames.length > 6 ? 8 : 12 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#222222' },
        },
      },
    ],
  };
}

/** Predicted against true values with the identity line: points on the line are perfect predictions. */
export function scatterChart(points: Array<{ y: number; yhat: number }>, unit: string): ChartSpec {
  const values = points.flatMap((point) => [point.y, point.yhat]);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return {
    width: 320,
    height: 320,
    layer: [
      {
        data: { values: points },
        mark: { type: 'circle', opacity: 0.5, size: 18 },
        encoding: {
          x: { field: 'y', type: 'quantitative', title: `true ${unit}`, scale: { domain: [lo, hi] } },
          y: { field: 'yhat', type: 'quantitative', title: `predicted ${unit}`, scale: { domain: [lo, hi] } },
        },
      },
      {
        data: {
          values: [
            { y: lo, yhat: lo },
            { y: hi, yhat: hi },
          ],
        },
        mark: { type: 'line', color: '#e45756', strokeDash: [4, 3] },
        encoding: { x: { field: 'y', type: 'quantitative' }, y: { field: 'yhat', type: 'quantitative' } },
      },
    ],
  };
}

/** Mean gate weight per expert within each group (true class or label quartile). */
export function gateWeightChart(
  byGroup: Record<string, Record<string, number>>,
  groupTitle: string,
): ChartSpec {
  const cells = Object.entries(byGroup).flatMap(([group, weights]) =>
    Object.entries(weights).map(([expert, weight]) => ({ group, expert, weight })),
  );
  return {
    data: { values: cells },
    width: { step: 56 },
    height: { step: 22 },
    encoding: {
      x: {
        field: 'expert',
        type: 'nominal',
        title: 'expert',
        sort: null,
        axis: { ...NO_GRID, labelAngle: 0 },
      },
      y: { field: 'group', type: 'ordinal', title: groupTitle, sort: null, axis: NO_GRID },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'weight',
            type: 'quantitative',
            title: 'mean weight',
            scale: { scheme: 'greens', domain: [0, 1] },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'weight', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'datum.weight > 0.5', value: 'white' }, value: '#222222' },
        },
      },
    ],
  };
}

/** Train and validation loss per epoch; a dashed rule marks the epoch whose weights were kept. */
export function trainingCurveChart(
  curve: Array<{ epoch: number; trainLoss: number; valLoss: number }>,
  keptEpoch?: number,
): ChartSpec {
  const values = curve.flatMap((point) => [
    { epoch: point.epoch, loss: point.trainLoss, split: 'train' },
    { epoch: point.epoch, loss: point.valLoss, split: 'validation' },
  ]);
  const lines = {
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'loss', type: 'quantitative', scale: { zero: false } },
      color: { field: 'split', type: 'nominal', title: null },
    },
  } as const;
  if (keptEpoch === undefined) return { width: 360, height: 220, ...lines };
  return {
    width: 360,
    height: 220,
    layer: [
      lines,
      {
        data: { values: [{ epoch: keptEpoch, label: `kept: epoch ${keptEpoch}` }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#555555' },
        encoding: { x: { field: 'epoch', type: 'quantitative' } },
      },
      {
        data: { values: [{ epoch: keptEpoch, label: `kept: epoch ${keptEpoch}` }] },
        mark: { type: 'text', align: 'left', dx: 4, dy: -90, fontSize: 10, color: '#555555' },
        encoding: { x: { field: 'epoch', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

/** Counts per category, coloured by a second category (e.g. split). */
export function countChart(
  rows: Array<{ category: string; group: string; count: number }>,
  categoryTitle: string,
): ChartSpec {
  return {
    data: { values: rows },
    width: { step: rows.length > 20 ? 14 : 28 },
    height: 180,
    mark: 'bar',
    encoding: {
      x: { field: 'category', type: 'nominal', title: categoryTitle, sort: null, axis: { labelAngle: -45 } },
      y: { field: 'count', type: 'quantitative', stack: 'zero' },
      color: { field: 'group', type: 'nominal', title: null },
    },
  };
}

/** A histogram from pre-binned counts (binning happens in DuckDB, so the page holds no per-record data). */
export function histogramChart(
  bins: Array<{ start: number; end: number; count: number }>,
  valueTitle: string,
): ChartSpec {
  return {
    data: { values: bins },
    width: 360,
    height: 180,
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      x: { field: 'start', type: 'quantitative', bin: { binned: true }, title: valueTitle },
      x2: { field: 'end' },
      y: { field: 'count', type: 'quantitative' },
    },
  };
}

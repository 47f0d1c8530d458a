// Scrapes a /metrics endpoint and parses the Prometheus text format with an
// independent parser (parse-prometheus-text-format), so the tests read what
// Prometheus would.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { Metrics } from '../../src/observability/metrics.ts';

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }[];
}

export interface Scrape {
  families: ParsedFamily[];
  /** The value of one sample (gauge/counter), or undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The observation count of one histogram series. */
  count(name: string, labels?: Record<string, string>): number | undefined;
}

function matches(sample: { labels?: Record<string, string> }, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v);
}

export async function scrape(base: string): Promise<Scrape> {
  const response = await fetch(`${base}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain')) {
    throw new Error(`/metrics content-type ${response.headers.get('content-type')}`);
  }
  return parseMetrics(await response.text());
}

/** The metrics of a process's own registry, without HTTP. */
export async function scrapeMetrics(metrics: Metrics): Promise<Scrape> {
  return parseMetrics((await metrics.render()).body);
}

/** Parses an exposition text (e.g. Metrics.render() in process). */
export function parseMetrics(text: string): Scrape {
  const families = parsePrometheusTextFormat(text) as ParsedFamily[];
  // The parser folds a histogram's series into one unlabeled sample (prom2json keeps
  // labels only for unlabeled histograms), so labeled histograms are read a second
  // time as untyped samples: `<name>_count{labels}` then is a family of its own.
  const untyped = parsePrometheusTextFormat(
    text
      .split('\n')
      .filter((line) => !/^# TYPE \S+ histogram$/.test(line))
      .join('\n'),
  ) as ParsedFamily[];
  const family = (name: string) => families.find((f) => f.name === name);
  return {
    families,
    value(name, labels = {}) {
      const sample = family(name)?.metrics.find((m) => matches(m, labels));
      return sample?.value === undefined ? undefined : Number(sample.value);
    },
    count(name, labels = {}) {
      if (family(name)?.type !== 'HISTOGRAM') throw new Error(`${name} is not a histogram`);
      // prom-client writes each label set's buckets, sum and count together, so the
      // `_count` samples come as several families of that name.
      const sample = untyped
        .filter((f) => f.name === `${name}_count`)
        .flatMap((f) => f.metrics)
        .find((m) => matches(m, labels));
      return sample?.value === undefined ? undefined : Number(sample.value);
    },
  };
}

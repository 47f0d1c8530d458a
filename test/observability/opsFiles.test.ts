// The shipped alert rules and dashboard (ops/) name only metrics that /metrics exposes:
// a renamed or removed metric would leave an alert that can never fire.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTestApp, type TestApp } from '../support/app.ts';
import { scrapeMetrics } from '../support/prometheus.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await t.startEngine({ pollMs: 100 });
});
afterAll(async () => t.close());

interface Rule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: { summary: string };
}

/** Metric families an expression names (histogram series by their family name). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bparallax_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe('ops/prometheus/alerts.yml and ops/grafana/parallax.json', () => {
  it('parse, and every metric they name exists in /metrics', async () => {
    const rules = (
      parse(readFileSync('ops/prometheus/alerts.yml', 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups.flatMap((g) => g.rules);
    const dashboard = JSON.parse(readFileSync('ops/grafana/parallax.json', 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const alerts = new Set(rules.map((r) => r.alert));
    // The alerts the operations guide promises.
    for (const name of [
      'ParallaxProjectionLagging',
      'ParallaxProjectionStalled',
      'ParallaxProjectionParked',
      'ParallaxEventsUnaccounted',
      'ParallaxProjectionNotRunning',
      'ParallaxHorizonHeld',
    ]) {
      expect(alerts, name).toContain(name);
    }
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(page|ticket)$/);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
    }

    const exposed = new Set((await scrapeMetrics(t.app.metrics)).families.map((f) => f.name));
    const named = [
      ...rules.flatMap((r) => metricsIn(r.expr).map((m) => [r.alert, m] as const)),
      ...dashboard.panels.flatMap((p) => p.targets.flatMap((x) => metricsIn(x.expr).map((m) => [p.title, m] as const))),
    ];
    expect(named.length).toBeGreaterThan(20);
    const missing = named.filter(([, metric]) => !exposed.has(metric));
    expect(missing).toEqual([]);
  });
});

// Wakes projection engines in other processes after commands commit. A NOTIFY inside
// each command transaction serializes commits on PostgreSQL's notification queue lock
// (measured by the `notify` benchmark); instead each process sends at most one NOTIFY
// per interval after its commits, outside their transactions. Engines in the same
// process are woken directly. A lost wake-up costs at most the engines' poll interval.
import type pg from 'pg';
import { OUTBOX_CHANNEL } from './append.ts';

export class OutboxNotifier {
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly intervalMs = 5,
  ) {}

  poke(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.last + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, wait);
  }

  private async send(): Promise<void> {
    if (this.sending) {
      this.poke();
      return;
    }
    this.sending = true;
    this.last = Date.now();
    try {
      await this.pool.query(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
    } catch {
      // The engines poll as well.
    } finally {
      this.sending = false;
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

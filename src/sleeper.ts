// A loop's sleep that a wake-up cuts short: a wake that arrives while the loop is busy is
// kept, so the next sleep returns at once (nothing that woke it is slept through).
export class Sleeper {
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;

  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  sleep(ms: number): Promise<void> {
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.pendingWake = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}

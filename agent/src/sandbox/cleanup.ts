// Undo lists that run also when a run is interrupted: each step is
// idempotent, runs once, in reverse order, and a failing step does not stop
// the others.
type Step = { what: string; fn: () => void };

export class Cleanup {
  private steps: Step[] = [];
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.run();
    process.kill(process.pid, sig);
  };

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    // A closed terminal or session (ssh dropped, tmux killed) too.
    process.once('SIGHUP', this.onSignal);
    process.once('exit', this.onExit);
  }

  private readonly onExit = () => {
    this.run();
  };

  add(what: string, fn: () => void): void {
    this.steps.push({ what, fn });
  }

  /** Runs every step; returns the errors of the steps that failed. */
  run(): Error[] {
    const errors: Error[] = [];
    const steps = this.steps.reverse();
    this.steps = [];
    for (const s of steps) {
      try {
        s.fn();
      } catch (e) {
        errors.push(new Error(`cleanup '${s.what}': ${(e as Error).message}`));
      }
    }
    return errors;
  }

  dispose(): Error[] {
    const errors = this.run();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGHUP', this.onSignal);
    process.off('exit', this.onExit);
    return errors;
  }
}

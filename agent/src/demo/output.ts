// Demo output: numbered steps, a check mark or a cross per expectation, colour
// only on a terminal. Expected failures are shown as outcomes, never as stack traces.
const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);

export class Narrator {
  private n = 0;
  failures = 0;

  step(title: string, why: string): void {
    this.n++;
    process.stdout.write(`\n${paint(1, `${this.n}. ${title}`)}\n   ${paint(2, why)}\n`);
  }

  expect(ok: boolean, what: string, detail = ''): void {
    if (!ok) this.failures++;
    const mark = ok ? paint(32, '✓') : paint(31, '✗');
    process.stdout.write(`   ${mark} ${what}${detail ? paint(2, `  (${detail})`) : ''}\n`);
  }

  info(line: string): void {
    process.stdout.write(`   ${line}\n`);
  }
}

// sudo make demo: the newest end-to-end flow there is (see agent/src/demo/).
import { sandboxTour } from '../agent/src/demo/sandbox-tour.ts';

if (process.getuid?.() !== 0) {
  process.stderr.write(
    'The demo builds network namespaces and loads BPF programs: run it as root (sudo make demo).\n',
  );
  process.exit(1);
}
process.exitCode = await sandboxTour();

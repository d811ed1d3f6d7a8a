// sudo make demo: the newest end-to-end flow there is (see agent/src/demo/).
import { datapathTour } from '../agent/src/demo/datapath-tour.ts';

if (process.getuid?.() !== 0) {
  process.stderr.write(
    'The demo loads BPF programs and makes namespaces: run it as root (sudo make demo).\n',
  );
  process.exit(1);
}
process.exitCode = await datapathTour();

// Checks of a running agent (not with --pre): its admin socket answers, and the
// maps it pinned carry this build's map-layout version.
import { LAYOUT_VERSION } from '../tables/index.ts';
import { type Check, fail, ok } from './types.ts';

const start = (flag: string, value: string) =>
  `is the agent running? weft agent --node NAME --manifests DIR --cgroup-root DIR ${flag} ${value}`;

const admin: Check = {
  id: 'agent.admin',
  title: 'the agent answers on its admin socket',
  category: 'agent',
  async run({ host, options }) {
    try {
      const s = await host.agentStatus(options.adminSocket);
      const enrolled = s.workloads.filter((w) => w.enrolled).length;
      return ok(
        `node ${s.node} on ${options.adminSocket}: ${enrolled} of ${s.workloads.length} workloads enrolled`,
      );
    } catch (e) {
      return fail((e as Error).message, start('--admin-socket', options.adminSocket));
    }
  },
};

const layout: Check = {
  id: 'agent.layout',
  title: `pinned maps carry map layout ${LAYOUT_VERSION}`,
  category: 'agent',
  run({ host, options }) {
    const dir = options.bpffs;
    const pins = host.pinnedMaps(dir);
    const present = pins.maps.filter((m) => m.present);
    if (present.length === 0)
      return fail(`no weft maps pinned under ${dir}`, start('--bpffs', dir));
    const stale = `the pins come from another weft version: stop the agent, remove ${dir} and start it again (the maps hold enrollment only)`;
    const wrong = present.filter((m) => m.problem);
    if (wrong.length > 0) return fail(wrong.map((m) => m.problem).join('\n'), stale);
    const missing = pins.maps.filter((m) => !m.present).map((m) => m.name);
    if (missing.length > 0)
      return fail(
        `not pinned under ${dir}: ${missing.join(', ')}`,
        'restart the agent: it pins every map when it starts',
      );
    if (pins.layoutVersion !== LAYOUT_VERSION) {
      const got = pins.layoutVersion ? `layout ${pins.layoutVersion}` : 'no layout version';
      return fail(`meta under ${dir} holds ${got}; this weft has ${LAYOUT_VERSION}`, stale);
    }
    return ok(`${present.length} maps under ${dir}, layout ${LAYOUT_VERSION}`);
  },
};

export const agentChecks: readonly Check[] = [admin, layout];

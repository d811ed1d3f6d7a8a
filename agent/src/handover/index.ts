// handover/: the upgrade handover between two agents of a node (docs/upgrades.md).
export { sleep } from './channel.ts';
export type { GiveReport, Giver } from './give.ts';
export { HandoverServer } from './give.ts';
export type { RelayState } from './messages.ts';
export { DEFAULT_DRAIN_GRACE_MS, HANDOVER_TIMEOUT_MS } from './messages.ts';
export { Takeover } from './take.ts';

// agent/: one node's agent, wiring sources → compile → datapath and proxy.
export { Agent } from './agent.ts';
export { Lifecycle } from './handover.ts';

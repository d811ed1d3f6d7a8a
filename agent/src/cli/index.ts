// cli/: the commands (cli/main.ts is the entry; each command loads when run).
// What other rooms use of the commands.
export { formatFlow } from './commands/observe.ts';
export { formatTrace } from './commands/policy.ts';

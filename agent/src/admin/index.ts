// admin/: the admin API, its server and its client.
export { adminGet, fetchAccessLog, fetchStatus } from './client.ts';
export { AdminServer, parseHostPort } from './server.ts';
export { listenUnix } from './unix-socket.ts';

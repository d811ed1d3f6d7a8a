// admin/: the admin API, its server and its client.
export { adminGet, adminText, fetchAccessLog, fetchStatus } from './client.ts';
export { AdminServer, parseHostPort } from './server.ts';
export { listenUnix } from './unix-socket.ts';

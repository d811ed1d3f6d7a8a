// How a Service port's bytes are read, one rule for the route compiler, the trace and
// the engine.
import type { ServicePort } from '../state/index.ts';
import type { PortProtocol } from './routes.ts';

/**
 * How a Service port's bytes are read, as Istio reads them: appProtocol first (`http`,
 * `http2`, `grpc`, `kubernetes.io/h2c`, `kubernetes.io/ws`), else the port's name
 * (`http`, `http-*`, `http2`, `http2-*`, `grpc`, `grpc-*`); anything else is opaque TCP.
 */
export function portProtocol(sp: ServicePort): PortProtocol {
  if (sp.appProtocol !== undefined) {
    switch (sp.appProtocol.toLowerCase()) {
      case 'http':
        return 'http';
      case 'http2':
      case 'kubernetes.io/h2c':
        return 'http2';
      case 'grpc':
        return 'grpc';
      case 'kubernetes.io/ws':
        return 'ws';
      default:
        return 'tcp';
    }
  }
  const prefix = (sp.name ?? '').toLowerCase().split('-')[0];
  return prefix === 'http'
    ? 'http'
    : prefix === 'http2'
      ? 'http2'
      : prefix === 'grpc'
        ? 'grpc'
        : 'tcp';
}

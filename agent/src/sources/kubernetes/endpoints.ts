// discovery.k8s.io/v1 EndpointSlice → the state store's EndpointSlice. Pure.
// Slices are written by the cluster's controller, not by hand, so a slice this
// reader cannot use is reported and left out rather than picked apart field by field.
import { isIP } from 'node:net';
import type { EndpointSlice, ObjectError } from '../../state/index.ts';
import type { RawObject } from './convert.ts';

const SERVICE_LABEL = 'kubernetes.io/service-name';

export function readEndpointSlice(
  source: string,
  o: RawObject,
): { slice: EndpointSlice } | { error: ObjectError } | { skip: string } {
  const ns = o.metadata?.namespace ?? 'default';
  const name = o.metadata?.name ?? '';
  const object = `EndpointSlice ${ns}/${name}`;
  const fail = (field: string, message: string) => ({
    error: { file: source, object, field, message },
  });
  const service = o.metadata?.labels?.[SERVICE_LABEL];
  if (typeof service !== 'string' || service === '')
    return fail(`metadata.labels[${SERVICE_LABEL}]`, 'expected the name of the Service it serves');
  const addressType = o.addressType ?? 'IPv4';
  // FQDN slices name hosts, not addresses: nothing the proxy could dial by IP.
  if (addressType === 'FQDN') return { skip: 'FQDN' };
  if (addressType !== 'IPv4' && addressType !== 'IPv6')
    return fail('addressType', `expected IPv4, IPv6 or FQDN, found ${JSON.stringify(addressType)}`);
  const ports: EndpointSlice['ports'][number][] = [];
  for (const [i, p] of ((o.ports ?? []) as RawObject[]).entries()) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
      return fail(`ports[${i}].port`, `expected a port number, found ${JSON.stringify(p.port)}`);
    ports.push({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' });
  }
  const endpoints: EndpointSlice['endpoints'][number][] = [];
  for (const [i, e] of ((o.endpoints ?? []) as RawObject[]).entries()) {
    const addresses = (e.addresses ?? []) as unknown[];
    for (const [j, a] of addresses.entries()) {
      if (typeof a !== 'string' || isIP(a) !== (addressType === 'IPv4' ? 4 : 6))
        return fail(
          `endpoints[${i}].addresses[${j}]`,
          `expected an ${addressType} address, found ${JSON.stringify(a)}`,
        );
    }
    const ref = e.targetRef;
    const pod =
      ref?.kind === 'Pod' && typeof ref.name === 'string'
        ? `${ref.namespace ?? ns}/${ref.name}`
        : undefined;
    endpoints.push({
      addresses: addresses as string[],
      ready: e.conditions?.ready !== false,
      ...(pod ? { pod } : {}),
    });
  }
  return { slice: { namespace: ns, name, service, addressType, ports, endpoints } };
}

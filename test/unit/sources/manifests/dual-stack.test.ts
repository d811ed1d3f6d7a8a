// status.podIPs and a Service's clusterIPs, ipFamilies and ipFamilyPolicy.
import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../../../agent/src/sources/manifests/parse.ts';

const F = 'cluster/shop.yaml';
const pod = (status: string) => `
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop}
spec: {nodeName: node-a, containers: [{name: app}]}
status: ${status}
`;
const svc = (spec: string) => `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}], ${spec}}
`;
const parse = (text: string) => parseManifestFile(F, text);
const fields = (text: string) => parse(text).errors.map((e) => [e.field, e.message]);

describe('dual-stack fields', () => {
  it('reads status.podIPs, IPv6 in its canonical spelling', () => {
    const r = parse(pod('{podIP: 10.1.0.5, podIPs: [{ip: 10.1.0.5}, {ip: "FD00:0:0::5"}]}'));
    expect(r.errors).toEqual([]);
    expect(r.objects[0]?.value).toMatchObject({
      podIP: '10.1.0.5',
      podIPs: ['10.1.0.5', 'fd00::5'],
    });
  });

  it('takes podIP from podIPs when only the list is given', () => {
    expect(parse(pod('{podIPs: [{ip: "fd00::5"}]}')).objects[0]?.value).toMatchObject({
      podIP: 'fd00::5',
      podIPs: ['fd00::5'],
    });
  });

  it('leaves podIPs out when the pod has none', () => {
    expect(parse(pod('{podIP: 10.1.0.5}')).objects[0]?.value).not.toHaveProperty('podIPs');
  });

  it('names what is wrong with podIPs', () => {
    expect(fields(pod('{podIP: 10.1.0.5, podIPs: [{ip: 10.1.0.6}]}'))).toEqual([
      ['status.podIPs', 'expected status.podIP (10.1.0.5) first, found 10.1.0.6'],
    ]);
    expect(fields(pod('{podIP: 10.1.0.5, podIPs: [{ip: 10.1.0.5}, {ip: 10.1.0.6}]}'))).toEqual([
      [
        'status.podIPs',
        'expected one address per family (at most one IPv4 and one IPv6), found 10.1.0.5, 10.1.0.6',
      ],
    ]);
    expect(fields(pod('{podIPs: [{ip: nope}, {}]}'))).toEqual([
      ['status.podIPs[0].ip', 'expected an IPv4 or IPv6 address, found the string "nope"'],
      ['status.podIPs[1].ip', 'expected an IPv4 or IPv6 address, found nothing'],
    ]);
  });

  it('reads a dual-stack Service', () => {
    const r = parse(
      svc(
        'clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10, "fd00:96::a"], ipFamilies: [IPv4, IPv6], ipFamilyPolicy: RequireDualStack',
      ),
    );
    expect(r.errors).toEqual([]);
    expect(r.objects[0]?.value).toMatchObject({
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10', 'fd00:96::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
    });
  });

  it('fills clusterIP from clusterIPs, as Kubernetes does', () => {
    expect(parse(svc('clusterIPs: ["fd00:96::a"]')).objects[0]?.value).toMatchObject({
      clusterIP: 'fd00:96::a',
    });
  });

  it('names what is wrong with a Service family', () => {
    expect(fields(svc('ipFamilyPolicy: Both'))).toEqual([
      [
        'spec.ipFamilyPolicy',
        'expected SingleStack, PreferDualStack, RequireDualStack, found the string "Both"',
      ],
    ]);
    expect(fields(svc('ipFamilies: [IPv4, IPv4]'))).toEqual([
      ['spec.ipFamilies[1]', 'expected each family once, found IPv4 again'],
    ]);
    expect(fields(svc('ipFamilyPolicy: SingleStack, ipFamilies: [IPv4, IPv6]'))).toEqual([
      ['spec.ipFamilyPolicy', 'SingleStack allows one family, found two'],
    ]);
    expect(fields(svc('clusterIPs: [10.96.0.10], ipFamilies: [IPv6]'))).toEqual([
      ['spec.clusterIPs[0]', 'expected an IPv6 address (spec.ipFamilies[0]), found 10.96.0.10'],
    ]);
    expect(fields(svc('clusterIP: 10.96.0.10, clusterIPs: [10.96.0.11]'))).toEqual([
      ['spec.clusterIPs', 'expected spec.clusterIP (10.96.0.10) first, found 10.96.0.11'],
    ]);
  });
});

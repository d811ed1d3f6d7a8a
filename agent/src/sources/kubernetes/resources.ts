// What the agent watches, and how each collection is listed with
// @kubernetes/client-node's typed clients (CRDs through CustomObjectsApi).
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  NetworkingV1Api,
} from '@kubernetes/client-node';
import type { ListResult, ResourceSpec } from './informer.ts';

export type ResourceName =
  | 'namespaces'
  | 'localPods'
  | 'pods'
  | 'services'
  | 'endpointSlices'
  | 'networkPolicies'
  | 'weftAuthorizationPolicies'
  | 'istioAuthorizationPolicies'
  | 'httpRoutes'
  | 'grpcRoutes'
  | 'referenceGrants'
  | 'rateLimits'
  | 'httpFaults'
  | 'destinationRules';

export function agentResources(kc: KubeConfig, node: string): Record<ResourceName, ResourceSpec> {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  // Optional: a cluster without the CRD (no Istio, no Gateway API) simply has none.
  const crd = (
    group: string,
    version: string,
    plural = 'authorizationpolicies',
    kind = 'AuthorizationPolicy',
  ): ResourceSpec => ({
    path: `/apis/${group}/${version}/${plural}`,
    kind,
    apiVersion: `${group}/${version}`,
    optional: true,
    list: () => custom.listClusterCustomObject({ group, version, plural }) as Promise<ListResult>,
  });
  const nodeSelector = `spec.nodeName=${node}`;
  return {
    namespaces: {
      path: '/api/v1/namespaces',
      kind: 'Namespace',
      apiVersion: 'v1',
      list: () => core.listNamespace(),
    },
    // This node's pods in full: they are enrolled, located and given identities.
    localPods: {
      path: '/api/v1/pods',
      kind: 'Pod',
      apiVersion: 'v1',
      fieldSelector: nodeSelector,
      list: () => core.listPodForAllNamespaces({ fieldSelector: nodeSelector }),
    },
    // Every pod: NetworkPolicy peers and Service endpoints are pods anywhere in the cluster.
    pods: {
      path: '/api/v1/pods',
      kind: 'Pod',
      apiVersion: 'v1',
      list: () => core.listPodForAllNamespaces(),
    },
    services: {
      path: '/api/v1/services',
      kind: 'Service',
      apiVersion: 'v1',
      list: () => core.listServiceForAllNamespaces(),
    },
    endpointSlices: {
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      list: () => discovery.listEndpointSliceForAllNamespaces(),
    },
    networkPolicies: {
      path: '/apis/networking.k8s.io/v1/networkpolicies',
      kind: 'NetworkPolicy',
      apiVersion: 'networking.k8s.io/v1',
      list: () => networking.listNetworkPolicyForAllNamespaces(),
    },
    weftAuthorizationPolicies: crd('security.weft.dev', 'v1alpha1'),
    istioAuthorizationPolicies: crd('security.istio.io', 'v1'),
    httpRoutes: crd('gateway.networking.k8s.io', 'v1', 'httproutes', 'HTTPRoute'),
    grpcRoutes: crd('gateway.networking.k8s.io', 'v1', 'grpcroutes', 'GRPCRoute'),
    referenceGrants: crd(
      'gateway.networking.k8s.io',
      'v1beta1',
      'referencegrants',
      'ReferenceGrant',
    ),
    rateLimits: crd(
      'weft.dev',
      'v1alpha1',
      'httplocalratelimitpolicies',
      'HTTPLocalRateLimitPolicy',
    ),
    httpFaults: crd('weft.dev', 'v1alpha1', 'httpfaults', 'HTTPFault'),
    destinationRules: crd('networking.istio.io', 'v1', 'destinationrules', 'DestinationRule'),
  };
}

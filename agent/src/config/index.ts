// config/: defaults and settings, each written once.
export {
  ADMIN_SOCKET,
  BPFFS,
  CLUSTER_DOMAIN,
  HANDOVER_SOCKET,
  HEALTH_SOCKET,
  PIN_ROOT,
  RUN_ROOT,
  serviceHost,
  TRUST_DOMAIN,
  WEFT_NAMESPACE,
} from './defaults.ts';

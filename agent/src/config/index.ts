// config/: defaults and settings, each written once.
export {
  ADMIN_SOCKET,
  BPFFS,
  HANDOVER_SOCKET,
  PIN_ROOT,
  RUN_ROOT,
  TRUST_DOMAIN,
  WEFT_NAMESPACE,
} from './defaults.ts';

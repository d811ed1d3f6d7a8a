// The issuer on Kubernetes: the CA Secret, the pods it authorizes against,
// TokenReview authentication and AuthorizationPolicy status.
export { openSecretCaStore } from './ca-secret.ts';
export { IssuerCluster } from './cluster.ts';
export { PolicyStatusWriter } from './policy-status.ts';
export { RouteStatusWriter } from './route-status.ts';
export { TokenReviewAuthenticator } from './tokenreview.ts';

// The node's workload table: which pods of this node are in the mesh, and why.
export interface NodeWorkload {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  readonly podIP?: string;
  /** Every address of the pod (dual stack: one per family), podIP first; each is steered. */
  readonly podIPs: readonly string[];
  readonly netnsPath?: string;
  readonly cgroupDir?: string;
  readonly enrolled: boolean;
  /** Strict mTLS (namespace label or mesh default): plaintext from outside the mesh is refused. */
  readonly strict: boolean;
  /** Why it is (or is not) in the mesh, in words for `weft status`. */
  readonly reason: string;
}

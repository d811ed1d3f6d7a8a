// Kubernetes label selectors (metav1.LabelSelector) as parsed: the shape every
// policy object holds.
/** A Kubernetes object's labels. */
export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Non-empty for In and NotIn, absent for Exists and DoesNotExist. */
  readonly values?: readonly string[];
}

/** `{}` selects everything; a parsed selector omits empty parts. */
export interface LabelSelector {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}
